// The key or token a person pasted: kept for this tab only (sessionStorage), never in a URL.

const KEY = 'flowledger.key';

export const storedKey = (): string | null => sessionStorage.getItem(KEY);
export const storeKey = (key: string): void => sessionStorage.setItem(KEY, key);
export const forgetKey = (): void => sessionStorage.removeItem(KEY);
