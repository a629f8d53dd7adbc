// What the tab keeps (sessionStorage, never a URL): the key or token a person pasted, where the
// live log got to, and the metrics token. All of it goes with the key.

const NAMES = { key: 'flowledger.key', cursor: 'flowledger.cursor', metricsToken: 'flowledger.metricsToken' } as const;

export type Kept = keyof typeof NAMES;

export const kept = (name: Kept): string | null => sessionStorage.getItem(NAMES[name]);
export const keep = (name: Kept, value: string): void => sessionStorage.setItem(NAMES[name], value);

/** Forgets everything the tab kept: on sign-out, on a refused key, and before a new key. */
export function forgetSession(): void {
  for (const name of Object.values(NAMES)) sessionStorage.removeItem(name);
}
