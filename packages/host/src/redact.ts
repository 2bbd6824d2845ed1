/**
 * Outbound secret redaction: what a user pastes into a chat (a key, a token,
 * a `.env` file) should not leave the machine for a model provider. Each
 * match is replaced by `[REDACTED:<kind>]` and counted.
 */

interface Rule {
  kind: string;
  pattern: RegExp;
  /** Replacement for a match (default: the whole match becomes the marker). */
  replace?: (match: string, ...groups: string[]) => string;
}

const marker = (kind: string) => `[REDACTED:${kind}]`;

const RULES: Rule[] = [
  { kind: 'private-key', pattern: /-----BEGIN ([A-Z0-9 ]*)PRIVATE KEY-----[\s\S]*?-----END \1PRIVATE KEY-----/g },
  { kind: 'aws-access-key', pattern: /\b(?:AKIA|ASIA)[0-9A-Z]{16}\b/g },
  { kind: 'github-token', pattern: /\b(?:gh[pousr]_[A-Za-z0-9]{36,255}|github_pat_[A-Za-z0-9_]{22,255})\b/g },
  { kind: 'openai-key', pattern: /\bsk-(?:proj-|svcacct-|admin-)?[A-Za-z0-9_-]{20,}\b/g },
  // `NAME=value` lines whose name says it holds a secret (`API_KEY=…`, `export DB_PASSWORD=…`, `aws_secret_access_key = …`).
  {
    kind: 'env-secret',
    pattern: /^(\s*(?:export\s+)?[A-Za-z_][A-Za-z0-9_]*(?:KEY|TOKEN|SECRET|PASSWORD|PASSWD|CREDENTIALS?)[A-Za-z0-9_]*\s*=\s*)(?!\[REDACTED:)("[^"\n]*"|'[^'\n]*'|\S+)/gim,
    replace: (_m, name) => `${name}${marker('env-secret')}`,
  },
];

export interface Redacted {
  text: string;
  /** Secrets replaced, by kind. */
  counts: Record<string, number>;
  total: number;
}

/** Replace the secrets in `text`. */
export function redactSecrets(text: string): Redacted {
  const counts: Record<string, number> = {};
  let total = 0;
  for (const rule of RULES) {
    text = text.replace(rule.pattern, (...args: string[]) => {
      counts[rule.kind] = (counts[rule.kind] ?? 0) + 1;
      total++;
      const groups = args.slice(1, -2);
      return rule.replace ? rule.replace(args[0]!, ...groups) : marker(rule.kind);
    });
  }
  return { text, counts, total };
}
