/**
 * GPT-2 / GPT-NeoX byte-level pre-tokenization, shared by the BPE trainer and encoder:
 *
 * - the GPT-2 split regex (contractions, letters with an optional leading space, numbers, other
 *   symbols, whitespace runs that leave their last space to the next word);
 * - WTF-8: a JS string becomes bytes as UTF-8, except that a lone surrogate (which UTF-8 cannot encode)
 *   becomes its 3-byte generalized UTF-8 form (ED A0..BF xx), so every JS string survives as bytes and
 *   decodes back to itself;
 * - the GPT-2 byte -> character map that spells byte strings as printable tokens in tokenizer.json.
 */

import { ArgumentTypeError } from '../errors.js';
import { checkString, describe } from '../ops/util.js';

/**
 * The GPT-2 pattern with `\s` spelled as the Unicode White_Space property: Hugging Face's `tokenizers`
 * runs this regex with Oniguruma, whose `\s` is White_Space (it includes U+0085 and not U+FEFF, unlike
 * JavaScript's `\s`). Every code point is a letter, a number, White_Space or "other", so the
 * alternatives cover any string; a lone surrogate is "other".
 */
export const GPT2_SPLIT_PATTERN =
  "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\p{White_Space}\\p{L}\\p{N}]+|\\p{White_Space}+(?!\\P{White_Space})|\\p{White_Space}+";

/** A fresh global regex of the split pattern (each caller owns its lastIndex). */
export function gpt2SplitRegex(): RegExp {
  return new RegExp(GPT2_SPLIT_PATTERN, 'gu');
}

/** The pieces of `text` under the GPT-2 regex, in order; their concatenation is `text`. */
export function pretokenize(text: string): string[] {
  checkString('pretokenize', 'text', text);
  return text.match(gpt2SplitRegex()) ?? [];
}

/** Calls `f` with each piece of `text` (no array built). */
export function forEachPiece(text: string, re: RegExp, f: (piece: string) => void): void {
  re.lastIndex = 0;
  for (let m = re.exec(text); m !== null; m = re.exec(text)) f(m[0]);
}

// ---- WTF-8 ----

/** Upper bound of the WTF-8 length of a string (3 bytes per UTF-16 unit). */
function maxBytes(s: string): number {
  return s.length * 3;
}

/** Writes the WTF-8 bytes of `s` into `out` from `at`; returns the end position. `out` must have room. */
export function wtf8EncodeInto(s: string, out: Uint8Array, at: number): number {
  let p = at;
  const n = s.length;
  for (let i = 0; i < n; i++) {
    let c = s.charCodeAt(i);
    if (c < 0x80) {
      out[p++] = c;
    } else if (c < 0x800) {
      out[p++] = 0xc0 | (c >> 6);
      out[p++] = 0x80 | (c & 0x3f);
    } else {
      if (c >= 0xd800 && c <= 0xdbff && i + 1 < n) {
        const d = s.charCodeAt(i + 1);
        if (d >= 0xdc00 && d <= 0xdfff) {
          c = 0x10000 + ((c - 0xd800) << 10) + (d - 0xdc00);
          i++;
          out[p++] = 0xf0 | (c >> 18);
          out[p++] = 0x80 | ((c >> 12) & 0x3f);
          out[p++] = 0x80 | ((c >> 6) & 0x3f);
          out[p++] = 0x80 | (c & 0x3f);
          continue;
        }
      }
      // Any other unit, lone surrogates included, is three bytes.
      out[p++] = 0xe0 | (c >> 12);
      out[p++] = 0x80 | ((c >> 6) & 0x3f);
      out[p++] = 0x80 | (c & 0x3f);
    }
  }
  return p;
}

/** The WTF-8 bytes of `s` (UTF-8 when `s` is well formed). */
export function wtf8Encode(s: string): Uint8Array {
  checkString('wtf8Encode', 's', s);
  const buf = new Uint8Array(maxBytes(s));
  return buf.slice(0, wtf8EncodeInto(s, buf, 0));
}

// ignoreBOM: a leading U+FEFF is text like any other (TextDecoder would drop it by default).
const strictUtf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/**
 * Text of WTF-8 bytes: valid UTF-8 plus 3-byte surrogates (which become lone UTF-16 units). Anything
 * else (a sampled id sequence need not be valid) becomes U+FFFD per maximal invalid subpart, as
 * TextDecoder does.
 */
export function wtf8Decode(bytes: Uint8Array): string {
  if (!(bytes instanceof Uint8Array)) throw new ArgumentTypeError('wtf8Decode', `bytes must be a Uint8Array, got ${describe(bytes)}`);
  try {
    return strictUtf8.decode(bytes); // the common case, at native speed
  } catch {
    return slowDecode(bytes);
  }
}

function slowDecode(b: Uint8Array): string {
  const units: number[] = [];
  let out = '';
  const flush = () => {
    out += String.fromCharCode(...units);
    units.length = 0;
  };
  const n = b.length;
  let i = 0;
  while (i < n) {
    const c = b[i]!;
    if (c < 0x80) {
      units.push(c);
      i++;
    } else {
      // Sequence length and the allowed range of the second byte (Unicode table 3-7, with ED 80..BF
      // allowed so surrogates decode).
      let need = 0;
      let lo = 0x80;
      let hi = 0xbf;
      let cp = 0;
      if (c >= 0xc2 && c <= 0xdf) { need = 1; cp = c & 0x1f; }
      else if (c >= 0xe0 && c <= 0xef) { need = 2; cp = c & 0x0f; if (c === 0xe0) lo = 0xa0; }
      else if (c >= 0xf0 && c <= 0xf4) { need = 3; cp = c & 0x07; if (c === 0xf0) lo = 0x90; if (c === 0xf4) hi = 0x8f; }
      if (need === 0) {
        units.push(0xfffd);
        i++;
      } else {
        let k = 1;
        for (; k <= need && i + k < n; k++) {
          const d = b[i + k]!;
          if (d < (k === 1 ? lo : 0x80) || d > (k === 1 ? hi : 0xbf)) break;
          cp = (cp << 6) | (d & 0x3f);
        }
        if (k <= need) {
          units.push(0xfffd); // truncated or broken: the valid prefix is one replacement character
          i += k;
        } else {
          if (cp >= 0x10000) {
            cp -= 0x10000;
            units.push(0xd800 + (cp >> 10), 0xdc00 + (cp & 0x3ff));
          } else {
            units.push(cp);
          }
          i += need + 1;
        }
      }
    }
    if (units.length >= 8192) flush();
  }
  flush();
  return out;
}

// ---- GPT-2 byte <-> character map ----

/**
 * GPT-2's map: printable Latin-1 bytes ('!'..'~', '¡'..'¬', '®'..'ÿ') stand for themselves, the other 68
 * bytes take the characters U+0100, U+0101, ... in byte order (so the space byte is 'Ġ', U+0120).
 */
export const BYTE_TO_CHAR: readonly string[] = (() => {
  const chars: string[] = new Array(256);
  let next = 256;
  for (let b = 0; b < 256; b++) {
    const printable = (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff);
    chars[b] = String.fromCharCode(printable ? b : next++);
  }
  return chars;
})();

const CHAR_TO_BYTE: ReadonlyMap<string, number> = new Map(BYTE_TO_CHAR.map((c, b) => [c, b]));

/** The tokenizer.json spelling of a byte string. */
export function bytesToTokenString(bytes: Uint8Array): string {
  let s = '';
  for (let i = 0; i < bytes.length; i++) s += BYTE_TO_CHAR[bytes[i]!];
  return s;
}

/** The bytes a tokenizer.json token spells, or null when a character is not one of the 256 byte characters. */
export function tokenStringToBytes(token: string): Uint8Array | null {
  const out = new Uint8Array(token.length);
  for (let i = 0; i < token.length; i++) {
    const b = CHAR_TO_BYTE.get(token[i]!);
    if (b === undefined) return null;
    out[i] = b;
  }
  return out;
}
