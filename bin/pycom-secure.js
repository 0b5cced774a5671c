#!/usr/bin/env node
'use strict';
// Thin launcher: the CLI itself is bundled into dist/cli.js by `npm run build`.
const path = require('node:path');
const fs = require('node:fs');
const cli = path.join(__dirname, '..', 'dist', 'cli.js');
if (!fs.existsSync(cli)) {
  process.stderr.write('pycom-secure is not built yet: run `npm run setup` (or `npm run build`) in ' + path.dirname(__dirname) + ' first.\n');
  process.exit(2);
}
require(cli).main();
