import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { repo } from './pack.js';

/** A Markdown file of the repository: its path from the root, and its text. */
export interface MarkdownDoc {
  path: string;
  text: string;
}

/** Every Markdown file users may read, outside dependencies, build output and bench results. */
export function markdownDocs(): MarkdownDoc[] {
  return markdownFiles(repo).map((path) => ({
    path: relative(repo, path),
    text: readFileSync(path, 'utf8'),
  }));
}

function markdownFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (['node_modules', '.git', 'dist', '.cache', 'results'].includes(name)) return [];
    if (statSync(path).isDirectory()) return markdownFiles(path);
    return name.endsWith('.md') ? [path] : [];
  });
}
