import type { EfuseSnapshot } from '../../../webview/src/protocol';
import type { UiNode } from './node-tree';

/**
 * eFuse view rows: fields by category, lock icons for protection, and fields whose value
 * changed since the previous read marked. Empty until a board has been read.
 */
export function efuseNodes(s: EfuseSnapshot | undefined, previous: EfuseSnapshot | undefined): UiNode[] {
  if (!s || !s.hasValues) return [];
  const before = new Map(previous?.fields.map((f) => [f.name, f.value]) ?? []);
  // What secure boot and flash encryption depend on comes first and open; the rest is one click away.
  const FIRST = ['security', 'flash'];
  const categories = [...new Set(s.fields.map((f) => f.category))].sort((a, b) => (FIRST.indexOf(a) + 1 || 99) - (FIRST.indexOf(b) + 1 || 99) || a.localeCompare(b));
  const changedFields = s.fields.filter((f) => before.has(f.name) && before.get(f.name) !== f.value);
  const changedGroup: UiNode[] = changedFields.length
    ? [{
        id: 'efuse/changed', label: 'Changed since last read', description: String(changedFields.length), icon: 'diff', color: 'gitDecoration.modifiedResourceForeground',
        children: changedFields.map((f) => ({ id: `efuse/changed/${f.name}`, label: f.name, description: `${f.value} (was ${before.get(f.name)})`, tooltip: f.description, icon: 'diff-modified', color: 'gitDecoration.modifiedResourceForeground' })),
      }]
    : [];
  return [...changedGroup, ...categories.map((cat) => ({
    id: `efuse/cat/${cat}`,
    label: cat,
    icon: 'symbol-namespace',
    // With a "changed" group on top, the full categories start closed so the changes are in view.
    collapsed: changedFields.length > 0 || !FIRST.includes(cat),
    children: s.fields
      .filter((f) => f.category === cat)
      .map((f) => {
        const old = before.get(f.name);
        const changed = old !== undefined && old !== f.value;
        const icon = changed ? 'diff-modified' : f.readProtected ? 'eye-closed' : f.writeProtected ? 'lock' : 'unlock';
        const prot = [f.readProtected ? 'read-protected' : '', f.writeProtected ? 'write-protected' : ''].filter(Boolean).join(', ') || 'not protected';
        return {
          id: `efuse/field/${f.name}`,
          label: f.name,
          description: changed ? `${f.value} (was ${old})` : f.value,
          tooltip: `${f.description}\nBLOCK${f.block} bit ${f.bit}, ${f.len} bit(s); ${prot}`,
          icon,
          ...(changed ? { color: 'gitDecoration.modifiedResourceForeground' } : {}),
        };
      }),
  }))];
}
