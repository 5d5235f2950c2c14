/**
 * Rewrite one section of docs/benchmarks.md between markers, so each benchmark owns its
 * table and re-running it replaces old figures instead of appending (pino's update-bench-doc).
 */
import { readFile, writeFile } from 'node:fs/promises';

export async function updateBenchDoc(
  docPath: string,
  section: string,
  body: string,
): Promise<void> {
  const begin = `<!-- bench:${section}:begin -->`;
  const end = `<!-- bench:${section}:end -->`;
  let doc: string;
  try {
    doc = await readFile(docPath, 'utf8');
  } catch {
    doc = '# Benchmarks\n';
  }
  const block = `${begin}\n${body.trim()}\n${end}`;
  const from = doc.indexOf(begin);
  const to = doc.indexOf(end);
  const next =
    from !== -1 && to > from
      ? doc.slice(0, from) + block + doc.slice(to + end.length)
      : `${doc.trimEnd()}\n\n${block}\n`;
  await writeFile(docPath, next.endsWith('\n') ? next : `${next}\n`);
}
