import * as vscode from 'vscode';
import * as path from 'node:path';
import { boardChoices, isUserError, PROBLEM_MATCHER_NAMES, secureBuild, tokenUriOf, type BuildTarget } from '../core';
import { readSettings, resolveInWorkspace, workspaceRoot } from './settings';
import { buildBoard, keyStore } from './flows';

/**
 * The "pycom" task type: Pycom's secure build (`make SECURE=on ...`) run by the core's build
 * runner in a pseudo-terminal, so the $pycom-build problem matcher turns gcc lines into
 * Problems and the task can be cancelled like any other.
 */
/** The exit code of the last build task: onDidEndTaskProcess does not report custom executions. */
let lastExitCode: number | undefined;
/** Why the last build task failed before make ran (its one sentence), or undefined. */
let lastError: string | undefined;

/** Why the last build task failed before make ran (the sentence its terminal shows), or undefined when make ran. */
export function lastBuildError(): string | undefined {
  return lastError;
}

export function makeBuildTask(def: vscode.TaskDefinition, log: vscode.LogOutputChannel): vscode.Task {
  const exec = new vscode.CustomExecution(async () => {
    const write = new vscode.EventEmitter<string>();
    const close = new vscode.EventEmitter<number>();
    const abort = new AbortController();
    const line = (s: string) => write.fire(`${s.replace(/\n/g, '\r\n')}\r\n`);
    const run = async (): Promise<number> => {
      // The build runs project code (a makefile): never in an untrusted workspace.
      if (!vscode.workspace.isTrusted) throw new Error('Building runs the project\'s makefile, so it is disabled in an untrusted workspace.');
      const start = (def.project ? resolveInWorkspace(String(def.project)) : undefined) ?? resolveInWorkspace(readSettings().firmwarePath) ?? workspaceRoot();
      if (!start) throw new Error('Open the firmware folder (or set pycom.firmwarePath) first.');
      const st = readSettings();
      const env = { ...process.env, ...(st.toolchainPath ? { PATH: `${st.toolchainPath}${path.delimiter}${process.env.PATH ?? ''}` } : {}), ...(st.idfPath ? { IDF_PATH: st.idfPath } : {}) };
      let esp32Dir = '';
      const store = keyStore();
      // A signing key in a token: the PIN from PYCOM_PKCS11_PIN or a password box, kept in memory for this build only.
      const signing = store.signingKeyFile();
      let pin: string | undefined;
      if (signing !== undefined && tokenUriOf(signing) !== undefined && process.env.PYCOM_PKCS11_PIN === undefined) {
        pin = await vscode.window.showInputBox({ title: 'Pycom: token PIN', prompt: `User PIN of the token holding the signing key (${tokenUriOf(signing)})`, password: true, ignoreFocusOut: true });
        if (pin === undefined) throw new Error('The build needs the token\'s PIN to sign; nothing was built.');
      }
      const res = await secureBuild({
        project: start,
        board: (project) => {
          esp32Dir = project.esp32Dir;
          const board = buildBoard(project.esp32Dir);
          if (!board) throw new Error(`Set pycom.board to the module you build for (${boardChoices('name')}).`);
          return board;
        },
        target: (def.target as BuildTarget | undefined) ?? 'boot_app',
        store,
        // make runs this extension's own CLI (bin/ beside dist/) as SIGN_BINARY, with VS Code's Node (ELECTRON_RUN_AS_NODE).
        signCommand: [process.execPath, path.join(__dirname, '..', 'bin', 'pycom-secure.js')],
        ...(pin !== undefined ? { pkcs11: { pin } } : {}),
        keyStoreHint: 'set pycom.keyStorePath to the folder that holds them',
        signal: abort.signal,
        env,
        // Paths in gcc diagnostics are relative to esp32/; the matcher resolves them from there.
        onLine: (l) => line(l.startsWith('/') || !esp32Dir ? l : l.replace(/^([^\s:]+\.(?:c|h|cpp|S)):(\d+):/, (_m, f: string, n: string) => `${path.join(esp32Dir, f)}:${n}:`)),
      });
      const { errors, warnings } = res;
      line(res.summary);
      log.info(`build: make exited with ${res.exitCode} (${errors} errors, ${warnings} warnings)`);
      return res.exitCode;
    };
    return {
      onDidWrite: write.event,
      onDidClose: close.event,
      open: () => {
        run().then((code) => { lastExitCode = code; close.fire(code); }, (e: unknown) => {
          lastExitCode = 1;
          const msg = e instanceof Error ? e.message : String(e);
          lastError = msg;
          line(`\x1b[31m${msg}\x1b[0m`);
          if (isUserError(e)) log.error(`build: [${e.code}] ${msg}`); else log.error(`build: ${msg}`);
          close.fire(1);
        });
      },
      close: () => abort.abort(),
    };
  });
  const task = new vscode.Task(def, vscode.TaskScope.Workspace, 'build', 'pycom', exec, [...PROBLEM_MATCHER_NAMES]);
  task.group = vscode.TaskGroup.Build;
  task.presentationOptions = { reveal: vscode.TaskRevealKind.Always, clear: true };
  return task;
}

export function registerBuildTasks(log: vscode.LogOutputChannel): vscode.Disposable {
  return vscode.tasks.registerTaskProvider('pycom', {
    provideTasks: () => [makeBuildTask({ type: 'pycom', task: 'build' }, log)],
    resolveTask: (t) => (t.definition.type === 'pycom' ? makeBuildTask(t.definition, log) : undefined),
  });
}

/** Runs the build task and resolves with its exit code (undefined if it never started). */
export async function runBuildTask(log: vscode.LogOutputChannel): Promise<number | undefined> {
  lastExitCode = undefined;
  lastError = undefined;
  const execution = await vscode.tasks.executeTask(makeBuildTask({ type: 'pycom', task: 'build' }, log));
  return new Promise((resolve) => {
    const sub = vscode.tasks.onDidEndTask((e) => {
      if (e.execution === execution) {
        sub.dispose();
        resolve(lastExitCode);
      }
    });
  });
}
