/**
 * Fails when the modules under src/ import each other in a cycle, type-only imports included, or
 * its folders do (events/ importing store/ while store/ imports events/): a cycle is where a layer
 * stops being a layer, and the next backend or plane has to be edited on both sides of it. Reads
 * imports with the TypeScript compiler (no extra tool to install).
 *   tsx scripts/check-cycles.ts   print each cycle and exit 1, or exit 0 when there is none
 */
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import ts from 'typescript';

/** Every .ts file under `dir`, as absolute paths. */
function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(path);
    return entry.name.endsWith('.ts') ? [path] : [];
  });
}

/** The files under src/ that `file` imports or re-exports (relative specifiers only). */
function localImports(file: string, known: ReadonlySet<string>): string[] {
  const { importedFiles } = ts.preProcessFile(readFileSync(file, 'utf8'), true, false);
  return importedFiles
    .map(({ fileName }) => fileName)
    .filter((specifier) => specifier.startsWith('.'))
    .map((specifier) => resolve(dirname(file), specifier))
    .filter((target) => known.has(target));
}

/** Each cycle once, as the files along it (Tarjan's strongly connected components, then one loop per component). */
export function findCycles(graph: ReadonlyMap<string, readonly string[]>): string[][] {
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const components: string[][] = [];
  const visit = (node: string): void => {
    index.set(node, index.size);
    low.set(node, index.get(node)!);
    stack.push(node);
    onStack.add(node);
    for (const next of graph.get(node) ?? []) {
      if (!index.has(next)) {
        visit(next);
        low.set(node, Math.min(low.get(node)!, low.get(next)!));
      } else if (onStack.has(next)) {
        low.set(node, Math.min(low.get(node)!, index.get(next)!));
      }
    }
    if (low.get(node) === index.get(node)) {
      const component: string[] = [];
      let member: string;
      do {
        member = stack.pop()!;
        onStack.delete(member);
        component.push(member);
      } while (member !== node);
      const selfImport = graph.get(node)?.includes(node) ?? false;
      if (component.length > 1 || selfImport) components.push(component);
    }
  };
  for (const node of graph.keys()) if (!index.has(node)) visit(node);
  return components.map((component) => loopWithin(graph, new Set(component)));
}

/** One concrete loop through a strongly connected component, to name in the error. */
function loopWithin(graph: ReadonlyMap<string, readonly string[]>, members: ReadonlySet<string>): string[] {
  const start = [...members].sort()[0]!;
  const path = [start];
  const seen = new Set(path);
  for (;;) {
    const next = (graph.get(path.at(-1)!) ?? []).find((candidate) => members.has(candidate));
    if (next === undefined) return path;
    if (seen.has(next)) return [...path.slice(path.indexOf(next)), next];
    path.push(next);
    seen.add(next);
  }
}

export function importGraph(root: string): Map<string, string[]> {
  const files = sourceFiles(root);
  const known = new Set(files);
  return new Map(files.map((file) => [file, localImports(file, known)]));
}

/** The same graph between src/'s top-level folders (a file at the top is its own node). */
export function folderGraph(graph: ReadonlyMap<string, readonly string[]>, root: string): Map<string, string[]> {
  const folderOf = (file: string) => relative(root, file).split(sep)[0]!;
  const folders = new Map<string, Set<string>>();
  for (const [file, imports] of graph) {
    const from = folderOf(file);
    const targets = folders.get(from) ?? new Set<string>();
    for (const target of imports.map(folderOf)) if (target !== from) targets.add(target);
    folders.set(from, targets);
  }
  return new Map([...folders].map(([folder, targets]) => [folder, [...targets]]));
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const root = fileURLToPath(new URL('../src', import.meta.url));
  const graph = importGraph(root);
  const cycles = [...findCycles(graph), ...findCycles(folderGraph(graph, root))];
  for (const cycle of cycles) console.error(`import cycle: ${cycle.map((file) => relative(root, resolve(root, file))).join(' -> ')}`);
  if (cycles.length > 0) {
    console.error(`${cycles.length} import cycle(s) in src/: move the shared part below both sides.`);
    process.exit(1);
  }
}
