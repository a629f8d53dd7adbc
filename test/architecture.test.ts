import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = join(import.meta.dirname, '..');
const SRC = join(ROOT, 'src');
const DOC = readFileSync(join(ROOT, 'docs', 'architecture.md'), 'utf8');
/** The files directly in src/ are one box: the entry points and the settings. */
const ENTRY = 'entry';

const folderOf = (file: string) => {
  const parts = relative(SRC, file).split(sep);
  return parts.length > 1 ? parts[0]! : ENTRY;
};

/** "from → to" for every relative import (or re-export) between two folders of src/. */
function importsBetweenFolders(): Set<string> {
  const edges = new Set<string>();
  const files = readdirSync(SRC, { recursive: true, encoding: 'utf8' })
    .filter((file) => /\.tsx?$/.test(file) && !file.endsWith('.spec.ts') && !file.startsWith(`generated${sep}`))
    .map((file) => join(SRC, file));
  for (const file of files) {
    // `import x from`, `export … from`, `import './side-effect'` and `import('./lazy')`, either quote.
    const text = readFileSync(file, 'utf8');
    const targets = [
      ...text.matchAll(/^(?:import|export)\s[^;]*?from\s+['"](\.[^'"]+)['"]/gms),
      ...text.matchAll(/^import\s+['"](\.[^'"]+)['"]/gm),
      ...text.matchAll(/\bimport\(\s*['"](\.[^'"]+)['"]\s*\)/g),
    ];
    for (const [, target] of targets) {
      const to = resolve(dirname(file), target!);
      if (!to.startsWith(SRC + sep)) continue;
      const [a, b] = [folderOf(file), folderOf(to)];
      if (a !== b) edges.add(`${a} → ${b}`);
    }
  }
  return edges;
}

/** The component view: the Mermaid block under "## Components", its boxes and its arrows. */
function componentView() {
  const section = DOC.split(/^## /m).find((part) => part.startsWith('Components'))!;
  const diagram = /```mermaid\n([\s\S]*?)```/.exec(section)![1]!;
  const boxes = new Set([...diagram.matchAll(/^\s*(\w+)\[/gm)].map((match) => match[1]!));
  const arrows = new Set([...diagram.matchAll(/^\s*(\w+)\s*-->\s*(\w+)\s*$/gm)].map((match) => `${match[1]} → ${match[2]}`));
  return { boxes, arrows };
}

describe('docs/architecture.md', () => {
  const folders = readdirSync(SRC, { withFileTypes: true })
    .filter((entry) => entry.isDirectory())
    .map((entry) => entry.name);

  it('has a context, a container and a component view, each a Mermaid diagram', () => {
    for (const view of ['Context', 'Containers', 'Components'])
      expect(
        DOC.split(/^## /m).find((part) => part.startsWith(view)),
        view,
      ).toMatch(/```mermaid\n(flowchart|C4)/);
    expect(DOC).toMatch(/PostgreSQL/);
    for (const container of ['Server processes', 'Worker processes', 'Dashboard', 'Cluster primary']) expect(DOC).toContain(container);
  });

  it('draws every folder of src/ in the component view, and no folder that is gone', () => {
    expect(folders.length).toBeGreaterThan(5);
    expect([...componentView().boxes].sort()).toEqual([...folders, ENTRY].sort());
  });

  it('draws the imports between folders as they are: no arrow the code lacks, no import left out', () => {
    const { arrows } = componentView();
    const imports = importsBetweenFolders();
    expect(
      [...arrows].filter((arrow) => !imports.has(arrow)),
      'arrows that no import makes',
    ).toEqual([]);
    expect(
      [...imports].filter((edge) => !arrows.has(edge)),
      'imports the view does not draw',
    ).toEqual([]);
  });

  it('keeps the domain free of every other folder', () => {
    expect([...importsBetweenFolders()].filter((edge) => edge.startsWith('domain →'))).toEqual([]);
  });
});
