/**
 * The small part of HCL that Consul ACL rules are written in, so the rules Consul's CLI,
 * Terraform and docs send (`key_prefix "app/" { policy = "write" }`, `operator = "read"`)
 * work unchanged without an HCL dependency.
 *
 * Accepted: `name = "value"` attributes (also `true`, `false` and numbers), blocks
 * `name "label" … { … }` with attributes and nested blocks inside, optional commas between
 * items, and `#`, `//` and `/* … *\/` comments. Anything else (lists, heredocs, the
 * `name = { … }` object form) is refused with a message asking for the JSON form, which
 * carries the same rules.
 */
import { InvalidArgumentError } from '../../../core/index.ts';

/** One top-level or nested item of a rules document. */
export type RuleStatement =
  | { type: 'attr'; name: string; value: string }
  | { type: 'block'; name: string; labels: string[]; body: RuleStatement[] };

type Token =
  | { kind: 'ident' | 'string'; text: string; line: number }
  | { kind: '=' | '{' | '}' | ',' | 'eof'; text: string; line: number };

const JSON_HINT = '; rules must be JSON or the block form `key_prefix "name" { policy = "read" }`';

function fail(message: string, field: string): never {
  throw new InvalidArgumentError(`Failed to parse ACL rules: ${message}${JSON_HINT}`, field);
}

function tokenize(text: string, field: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  let line = 1;
  while (i < text.length) {
    const c = text[i] as string;
    if (c === '\n') {
      line++;
      i++;
    } else if (/\s/.test(c)) {
      i++;
    } else if (c === '#' || text.startsWith('//', i)) {
      while (i < text.length && text[i] !== '\n') i++;
    } else if (text.startsWith('/*', i)) {
      const end = text.indexOf('*/', i + 2);
      if (end === -1) fail(`unterminated comment at line ${line}`, field);
      line += text.slice(i, end).split('\n').length - 1;
      i = end + 2;
    } else if (c === '=' || c === '{' || c === '}' || c === ',') {
      tokens.push({ kind: c, text: c, line });
      i++;
    } else if (c === '"') {
      const start = i;
      i++;
      while (i < text.length && text[i] !== '"') {
        if (text[i] === '\n') fail(`line break inside a string at line ${line}`, field);
        i += text[i] === '\\' ? 2 : 1;
      }
      if (i >= text.length) fail(`unterminated string at line ${line}`, field);
      i++;
      let value: unknown;
      try {
        // HCL's escapes (\" \\ \n \t \uXXXX) are JSON's.
        value = JSON.parse(text.slice(start, i));
      } catch {
        fail(`bad escape in string at line ${line}`, field);
      }
      tokens.push({ kind: 'string', text: value as string, line });
    } else {
      const m = /^[A-Za-z0-9_.-]+/.exec(text.slice(i));
      if (!m) fail(`unexpected ${JSON.stringify(c)} at line ${line}`, field);
      tokens.push({ kind: 'ident', text: m[0], line });
      i += m[0].length;
    }
  }
  tokens.push({ kind: 'eof', text: 'end of input', line });
  return tokens;
}

/** Parse rules text in the HCL subset above; throws a 400 naming `field` otherwise. */
export function parseHclRules(text: string, field = 'Rules'): RuleStatement[] {
  const tokens = tokenize(text, field);
  let pos = 0;
  const peek = (): Token => tokens[pos] as Token;
  const next = (): Token => tokens[pos++] as Token;

  function body(closing: '}' | 'eof'): RuleStatement[] {
    const out: RuleStatement[] = [];
    for (;;) {
      const t = next();
      if (t.kind === closing) return out;
      if (t.kind === ',') continue;
      if (t.kind !== 'ident' && t.kind !== 'string') {
        fail(`expected a rule name at line ${t.line}, found ${JSON.stringify(t.text)}`, field);
      }
      const labels: string[] = [];
      while (peek().kind === 'string') labels.push(next().text);
      const after = next();
      if (after.kind === '=' && labels.length === 0) {
        const value = next();
        if (value.kind !== 'string' && value.kind !== 'ident') {
          fail(`expected a value for "${t.text}" at line ${value.line}`, field);
        }
        out.push({ type: 'attr', name: t.text, value: value.text });
      } else if (after.kind === '{') {
        out.push({ type: 'block', name: t.text, labels, body: body('}') });
      } else {
        fail(`expected "=" or "{" after "${t.text}" at line ${after.line}`, field);
      }
    }
  }
  return body('eof');
}
