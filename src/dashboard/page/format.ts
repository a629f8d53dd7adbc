/** Display helpers shared by the panels. */

export const time = (iso: string | null | undefined): string => (iso ? new Date(iso).toLocaleTimeString(undefined, { hour12: false }) : '');

export const dateTime = (iso: string | null | undefined): string => (iso ? new Date(iso).toLocaleString(undefined, { hour12: false }) : '');

export function duration(ms: number | null | undefined): string {
  if (ms === null || ms === undefined) return '';
  if (ms < 1000) return `${ms} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(ms < 10_000 ? 2 : 1)} s`;
  return `${Math.floor(ms / 60_000)} min ${Math.round((ms % 60_000) / 1000)} s`;
}

export const json = (value: unknown): string => JSON.stringify(value, null, 2) ?? 'null';

/** A datetime-local input's value (local time) as an ISO instant, or undefined when empty. */
export const instant = (local: string): string | undefined => (local ? new Date(local).toISOString() : undefined);

export const messageOf = (error: unknown): string => (error instanceof Error ? error.message : String(error));
