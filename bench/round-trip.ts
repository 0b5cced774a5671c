import * as net from 'node:net';
import { spawn } from 'node:child_process';
import { median } from './bench';

/**
 * What one request/reply round trip between two processes costs on this machine beyond the time
 * the replying side holds it, when the requester has been waiting that long (as a flashing client
 * waits ~14 ms for each 1 KiB block at 921600): a stand-alone echo server in its own Node process
 * holds each `requestBytes` request for `holdMs` (timer, then a short spin, as the virtual board
 * does) and answers `replyBytes`; this process answers each reply with the next request at once.
 * Nothing of this project runs in it, so the figure is the machine's, not the tool's: the least
 * latency any client on this machine pays per block. Returns the median extra milliseconds.
 */
export async function roundTripOverheadMs(opts: { holdMs: number; requestBytes: number; replyBytes: number; count: number }): Promise<number> {
  const server = `
    const net = require('node:net');
    const [hold, req, rep] = process.argv.slice(1).map(Number);
    const s = net.createServer((c) => {
      c.setNoDelay(true);
      let have = 0;
      c.on('data', (d) => {
        have += d.length;
        if (have < req) return;
        have -= req;
        const due = performance.now() + hold;
        const wait = () => {
          const left = due - performance.now();
          if (left <= 0) c.write(Buffer.alloc(rep));
          else if (left > 2) setTimeout(wait, left - 1.5);
          else setImmediate(wait);
        };
        wait();
      });
    });
    s.listen(0, '127.0.0.1', () => process.stdout.write(String(s.address().port) + '\\n'));
  `;
  const p = spawn(process.execPath, ['-e', server, String(opts.holdMs), String(opts.requestBytes), String(opts.replyBytes)], { stdio: ['ignore', 'pipe', 'inherit'] });
  try {
    const port = await new Promise<number>((resolve, reject) => {
      p.stdout.once('data', (d: Buffer) => resolve(Number(d.toString().trim())));
      p.once('error', reject);
      p.once('exit', (code) => reject(new Error(`round-trip server exited (${code})`)));
    });
    const sock = net.connect(port, '127.0.0.1');
    await new Promise<void>((resolve, reject) => sock.once('connect', () => resolve()).once('error', reject));
    sock.setNoDelay(true);
    const request = Buffer.alloc(opts.requestBytes, 0x5a);
    const times: number[] = [];
    await new Promise<void>((resolve) => {
      let got = 0;
      let sent = performance.now();
      sock.on('data', (d: Buffer) => {
        got += d.length;
        while (got >= opts.replyBytes) {
          got -= opts.replyBytes;
          const now = performance.now();
          times.push(now - sent - opts.holdMs);
          if (times.length === opts.count) return resolve();
          sent = now;
          sock.write(request);
        }
      });
      sock.write(request);
    });
    sock.destroy();
    return median(times.slice(10)); // the first few warm up both processes
  } finally {
    p.kill();
  }
}
