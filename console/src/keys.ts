// A hint of how hard the zip password is to guess. The password itself is never stored nor kept after a submit.

export const MIN_KEY_LENGTH = 8; // the service refuses shorter ones (exhaust.requests.rules.MIN_KEY_LENGTH)

export interface Strength {
  level: "too-short" | "weak" | "fair" | "strong";
  words: string;
}

export function keyStrength(key: string): Strength {
  if (key.length < MIN_KEY_LENGTH) {
    return { level: "too-short", words: `Too short: use at least ${MIN_KEY_LENGTH} characters.` };
  }
  const kinds = [/[a-z]/, /[A-Z]/, /[0-9]/, /[^A-Za-z0-9]/].filter((kind) => kind.test(key)).length;
  const repeated = /^(.)\1*$/.test(key);
  const score = repeated ? 0 : kinds + (key.length >= 12 ? 1 : 0) + (key.length >= 16 ? 1 : 0);
  if (score >= 5) return { level: "strong", words: "Strong password." };
  if (score >= 3) return { level: "fair", words: "Fair: a longer password, or one mixing letters, digits and symbols, is safer." };
  return { level: "weak", words: "Weak: mix upper and lower case letters, digits and symbols, or make it longer." };
}
