// The token lives in sessionStorage only: gone when the browser tab closes, never put in a URL or logged.

const TOKEN = "exhaust.console.token";
const CHANNEL = "exhaust.console.channel";

export interface Session {
  token: string;
  channel: string;
}

export function currentSession(): Session | null {
  const token = sessionStorage.getItem(TOKEN);
  const channel = sessionStorage.getItem(CHANNEL);
  return token && channel ? { token, channel } : null;
}

export function keepSession(session: Session): void {
  sessionStorage.setItem(TOKEN, session.token);
  sessionStorage.setItem(CHANNEL, session.channel);
}

export function forgetSession(): void {
  sessionStorage.removeItem(TOKEN);
  sessionStorage.removeItem(CHANNEL);
}
