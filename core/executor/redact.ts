const SECRET_NAME = /(SECRET|PASSWORD|PASSWD|TOKEN|API_?KEY|PRIVATE_?KEY|CREDENTIAL)/i;

/**
 * Replaces secret values with `***`: the values of environment variables whose names look
 * secret, and passwords inside connection URLs. Task log lines pass through this before storage.
 */
export class SecretRedactor {
  private readonly secrets: string[];

  constructor(env: NodeJS.ProcessEnv = process.env, extra: readonly string[] = []) {
    const found = new Set<string>(extra.filter((value) => value.length >= 4));
    for (const [name, value] of Object.entries(env)) {
      if (!value) continue;
      if (SECRET_NAME.test(name) && value.length >= 6) found.add(value);
      const password = passwordInUrl(value);
      if (password) found.add(password);
    }
    // Longest first, so a secret containing another is replaced whole.
    this.secrets = [...found].sort((a, b) => b.length - a.length);
  }

  redact(text: string): string {
    let result = text.replace(/(\b[a-z][a-z0-9+.-]*:\/\/[^:/?#\s]+:)([^@/\s]+)@/gi, '$1***@');
    for (const secret of this.secrets) if (result.includes(secret)) result = result.replaceAll(secret, '***');
    return result;
  }
}

function passwordInUrl(value: string): string | null {
  if (!/^[a-z][a-z0-9+.-]*:\/\//i.test(value)) return null;
  try {
    const password = decodeURIComponent(new URL(value).password);
    return password.length >= 4 ? password : null;
  } catch {
    return null;
  }
}
