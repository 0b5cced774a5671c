import * as vscode from 'vscode';

/**
 * The "pycom" task type (contributed with the pycom-build problem matcher). The secure build
 * is not wired yet, so the task runs and says so with a failing exit code instead of
 * silently doing nothing.
 */
export function registerBuildTasks(log: vscode.LogOutputChannel): vscode.Disposable {
  const make = (def: vscode.TaskDefinition): vscode.Task => {
    const exec = new vscode.CustomExecution(async () => {
      const write = new vscode.EventEmitter<string>();
      const close = new vscode.EventEmitter<number>();
      return {
        onDidWrite: write.event,
        onDidClose: close.event,
        open: () => {
          const text = 'Pycom: Build Secure Firmware is not available yet in this build: the secure firmware build is not wired to the editor yet.';
          log.warn(text);
          write.fire(`${text}\r\n`);
          close.fire(1);
        },
        close: () => undefined,
      };
    });
    const task = new vscode.Task(def, vscode.TaskScope.Workspace, 'build', 'pycom', exec, ['$pycom-build']);
    task.group = vscode.TaskGroup.Build;
    return task;
  };
  return vscode.tasks.registerTaskProvider('pycom', {
    provideTasks: () => [make({ type: 'pycom', task: 'build' })],
    resolveTask: (t) => (t.definition.type === 'pycom' ? make(t.definition) : undefined),
  });
}
