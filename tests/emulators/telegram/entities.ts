// parse_mode handling as the Bot API does it: the text a user sees is the markup-free text, and
// malformed markup is refused with "Bad Request: can't parse entities: ...". Bots commonly break on
// this (an unescaped '<' or '.' in a user's prompt), so the emulator enforces it.

export interface MessageEntity {
  type: string;
  offset: number;
  length: number;
  url?: string;
  language?: string;
}

export class EntityParseError extends Error {}

function byteOffset(src: string, index: number): number {
  return Buffer.byteLength(src.slice(0, index), 'utf8');
}

export function parseEntities(text: string, parseMode: string | undefined): { text: string; entities: MessageEntity[] } {
  if (!parseMode) return { text, entities: [] };
  switch (parseMode.toLowerCase()) {
    case 'html':
      return parseHtml(text);
    case 'markdownv2':
      return parseMarkdownV2(text);
    case 'markdown':
      return parseMarkdown(text);
    default:
      throw new EntityParseError(`Unsupported parse_mode`);
  }
}

// --- HTML

const HTML_TAGS: Record<string, string> = {
  b: 'bold',
  strong: 'bold',
  i: 'italic',
  em: 'italic',
  u: 'underline',
  ins: 'underline',
  s: 'strikethrough',
  strike: 'strikethrough',
  del: 'strikethrough',
  'tg-spoiler': 'spoiler',
  span: 'spoiler',
  a: 'text_link',
  code: 'code',
  pre: 'pre',
  blockquote: 'blockquote',
  'tg-emoji': 'custom_emoji',
};

function parseHtml(src: string): { text: string; entities: MessageEntity[] } {
  let out = '';
  const entities: MessageEntity[] = [];
  const stack: Array<{ tag: string; offset: number; entity: Omit<MessageEntity, 'offset' | 'length'> }> = [];
  let i = 0;
  while (i < src.length) {
    const ch = src[i]!;
    if (ch === '<') {
      const end = src.indexOf('>', i);
      if (end < 0) throw new EntityParseError(`Unclosed start tag at byte offset ${byteOffset(src, i)}`);
      const inner = src.slice(i + 1, end);
      if (inner.startsWith('/')) {
        const name = inner.slice(1).trim().toLowerCase();
        const top = stack.pop();
        if (!top) throw new EntityParseError(`Unexpected end tag at byte offset ${byteOffset(src, i)}`);
        if (top.tag !== name) {
          throw new EntityParseError(`Unmatched end tag at byte offset ${byteOffset(src, i)}, expected "</${top.tag}>", found "</${name}>"`);
        }
        const length = out.length - top.offset;
        if (length > 0) {
          // <pre><code class="language-x"> is one pre entity with a language
          const nested = entities.find((e) => e.type === 'code' && e.offset === top.offset && e.length === length);
          if (top.entity.type === 'pre' && nested) {
            entities.splice(entities.indexOf(nested), 1);
            entities.push({ ...top.entity, offset: top.offset, length, ...(nested.language ? { language: nested.language } : {}) });
          } else {
            entities.push({ ...top.entity, offset: top.offset, length });
          }
        }
      } else {
        const match = /^([a-zA-Z][a-zA-Z-]*)(\s[\s\S]*)?$/.exec(inner);
        const name = match?.[1]?.toLowerCase() ?? '';
        const type = HTML_TAGS[name];
        if (!match || !type) throw new EntityParseError(`Unsupported start tag "${name || inner}" at byte offset ${byteOffset(src, i)}`);
        const attrs = match[2] ?? '';
        const attr = (key: string) => new RegExp(`${key}\\s*=\\s*(?:"([^"]*)"|'([^']*)'|([^\\s"']+))`).exec(attrs);
        const entity: Omit<MessageEntity, 'offset' | 'length'> = { type };
        if (name === 'a') {
          const href = attr('href');
          if (!href) throw new EntityParseError(`Tag "a" must have attribute "href" at byte offset ${byteOffset(src, i)}`);
          entity.url = decodeHtmlEntities(href[1] ?? href[2] ?? href[3] ?? '');
        }
        if (name === 'span') {
          const cls = attr('class');
          if ((cls?.[1] ?? cls?.[2] ?? cls?.[3]) !== 'tg-spoiler') {
            throw new EntityParseError(`Tag "span" must have class "tg-spoiler" at byte offset ${byteOffset(src, i)}`);
          }
        }
        if (name === 'code') {
          const cls = attr('class');
          const value = cls?.[1] ?? cls?.[2] ?? cls?.[3];
          if (value?.startsWith('language-')) entity.language = value.slice('language-'.length);
        }
        if (name === 'blockquote' && /\bexpandable\b/.test(attrs)) entity.type = 'expandable_blockquote';
        stack.push({ tag: name, offset: out.length, entity });
      }
      i = end + 1;
      continue;
    }
    if (ch === '&') {
      const match = /^&(lt|gt|amp|quot|#\d+|#x[0-9a-fA-F]+);/.exec(src.slice(i, i + 12));
      if (match) {
        out += decodeHtmlEntities(match[0]);
        i += match[0].length;
        continue;
      }
    }
    out += ch;
    i += 1;
  }
  if (stack.length > 0) {
    throw new EntityParseError(`Can't find end tag corresponding to start tag "${stack[stack.length - 1]!.tag}"`);
  }
  entities.sort((a, b) => a.offset - b.offset);
  return { text: out, entities };
}

function decodeHtmlEntities(s: string): string {
  return s.replace(/&(lt|gt|amp|quot|#\d+|#x[0-9a-fA-F]+);/g, (_, name: string) => {
    if (name === 'lt') return '<';
    if (name === 'gt') return '>';
    if (name === 'amp') return '&';
    if (name === 'quot') return '"';
    if (name.startsWith('#x')) return String.fromCodePoint(parseInt(name.slice(2), 16));
    return String.fromCodePoint(parseInt(name.slice(1), 10));
  });
}

// --- MarkdownV2

const MDV2_RESERVED = new Set('_*[]()~`>#+-=|{}.!'.split(''));
const MDV2_NAMES: Record<string, string> = {
  bold: 'Bold',
  italic: 'Italic',
  underline: 'Underline',
  strikethrough: 'Strikethrough',
  spoiler: 'Spoiler',
  text_link: 'TextUrl',
};

function parseMarkdownV2(src: string): { text: string; entities: MessageEntity[] } {
  let out = '';
  const entities: MessageEntity[] = [];
  const open: Array<{ type: string; offset: number; at: number }> = [];
  let i = 0;
  const toggle = (type: string, width: number) => {
    const index = open.map((o) => o.type).lastIndexOf(type);
    if (index >= 0) {
      const entry = open.splice(index, 1)[0]!;
      if (out.length > entry.offset) entities.push({ type, offset: entry.offset, length: out.length - entry.offset });
    } else {
      open.push({ type, offset: out.length, at: i });
    }
    i += width;
  };
  while (i < src.length) {
    const ch = src[i]!;
    if (ch === '\\') {
      const next = src[i + 1];
      if (next === undefined) throw new EntityParseError(`Character '\\' is reserved and must be escaped with the preceding '\\'`);
      out += next;
      i += 2;
      continue;
    }
    if (src.startsWith('```', i)) {
      const close = src.indexOf('```', i + 3);
      if (close < 0) throw new EntityParseError(`Can't find end of Pre entity at byte offset ${byteOffset(src, i)}`);
      let body = src.slice(i + 3, close);
      let language: string | undefined;
      const newline = body.indexOf('\n');
      if (newline > 0 && /^[\w+-]+$/.test(body.slice(0, newline))) {
        language = body.slice(0, newline);
        body = body.slice(newline + 1);
      }
      const text = body.replace(/\\([`\\])/g, '$1');
      entities.push({ type: 'pre', offset: out.length, length: text.length, ...(language ? { language } : {}) });
      out += text;
      i = close + 3;
      continue;
    }
    if (ch === '`') {
      let j = i + 1;
      let text = '';
      while (j < src.length && src[j] !== '`') {
        if (src[j] === '\\' && j + 1 < src.length) {
          text += src[j + 1];
          j += 2;
        } else {
          text += src[j];
          j += 1;
        }
      }
      if (j >= src.length) throw new EntityParseError(`Can't find end of Code entity at byte offset ${byteOffset(src, i)}`);
      entities.push({ type: 'code', offset: out.length, length: text.length });
      out += text;
      i = j + 1;
      continue;
    }
    if (ch === '*') {
      toggle('bold', 1);
      continue;
    }
    if (src.startsWith('__', i)) {
      toggle('underline', 2);
      continue;
    }
    if (ch === '_') {
      toggle('italic', 1);
      continue;
    }
    if (ch === '~') {
      toggle('strikethrough', 1);
      continue;
    }
    if (src.startsWith('||', i)) {
      toggle('spoiler', 2);
      continue;
    }
    if (ch === '[') {
      open.push({ type: 'text_link', offset: out.length, at: i });
      i += 1;
      continue;
    }
    if (ch === ']') {
      const index = open.map((o) => o.type).lastIndexOf('text_link');
      if (index < 0 || src[i + 1] !== '(') {
        throw new EntityParseError(`Character ']' is reserved and must be escaped with the preceding '\\'`);
      }
      const close = src.indexOf(')', i + 2);
      if (close < 0) throw new EntityParseError(`Can't find end of a URL at byte offset ${byteOffset(src, i + 1)}`);
      const entry = open.splice(index, 1)[0]!;
      const url = src.slice(i + 2, close).replace(/\\([)\\])/g, '$1');
      if (out.length > entry.offset) entities.push({ type: 'text_link', offset: entry.offset, length: out.length - entry.offset, url });
      i = close + 1;
      continue;
    }
    if (ch === '>' && (i === 0 || src[i - 1] === '\n')) {
      // a quote line; the entity spans to the end of the line
      const end = src.indexOf('\n', i);
      const lineEnd = end < 0 ? src.length : end;
      const inner = parseMarkdownV2(src.slice(i + 1, lineEnd));
      entities.push({ type: 'blockquote', offset: out.length, length: inner.text.length });
      for (const e of inner.entities) entities.push({ ...e, offset: e.offset + out.length });
      out += inner.text;
      i = lineEnd;
      continue;
    }
    if (MDV2_RESERVED.has(ch)) {
      throw new EntityParseError(`Character '${ch}' is reserved and must be escaped with the preceding '\\'`);
    }
    out += ch;
    i += 1;
  }
  if (open.length > 0) {
    const last = open[open.length - 1]!;
    throw new EntityParseError(`Can't find end of ${MDV2_NAMES[last.type] ?? last.type} entity at byte offset ${byteOffset(src, last.at)}`);
  }
  entities.sort((a, b) => a.offset - b.offset);
  return { text: out, entities };
}

// --- legacy Markdown

function parseMarkdown(src: string): { text: string; entities: MessageEntity[] } {
  let out = '';
  const entities: MessageEntity[] = [];
  let i = 0;
  const pairs: Record<string, string> = { '*': 'bold', _: 'italic' };
  while (i < src.length) {
    const ch = src[i]!;
    if (ch === '\\' && i + 1 < src.length && '_*`['.includes(src[i + 1]!)) {
      out += src[i + 1];
      i += 2;
      continue;
    }
    const fence = src.startsWith('```', i) ? '```' : ch === '`' ? '`' : ch in pairs ? ch : null;
    if (fence) {
      const close = src.indexOf(fence, i + fence.length);
      if (close < 0) throw new EntityParseError(`Can't find end of the entity starting at byte offset ${byteOffset(src, i)}`);
      const text = src.slice(i + fence.length, close);
      const type = fence === '```' ? 'pre' : fence === '`' ? 'code' : pairs[fence]!;
      entities.push({ type, offset: out.length, length: text.length });
      out += text;
      i = close + fence.length;
      continue;
    }
    if (ch === '[') {
      const match = /^\[([^\]]*)\]\(([^)]*)\)/.exec(src.slice(i));
      if (!match) throw new EntityParseError(`Can't find end of the entity starting at byte offset ${byteOffset(src, i)}`);
      entities.push({ type: 'text_link', offset: out.length, length: match[1]!.length, url: match[2]! });
      out += match[1];
      i += match[0].length;
      continue;
    }
    out += ch;
    i += 1;
  }
  return { text: out, entities };
}
