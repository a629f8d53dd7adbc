import { useEffect, useState } from 'preact/hooks';
import type { EventFeed } from './event-feed.ts';

/** Renders the caller again whenever the feed's rows or state change (at most once a frame). */
export function useFeed(feed: EventFeed): EventFeed {
  const [, setTick] = useState(0);
  useEffect(() => feed.watch(() => setTick((tick) => tick + 1)), [feed]);
  return feed;
}
