// A page of a log, newest first, polled while it is the live (first) page:
// rows new since the last poll are marked fresh; a hidden tab does not poll.
import { useEffect, useRef, useState } from 'react';
import { get, type Page, type Query } from '../api';

const POLL_MS = 2000;

export interface LivePage<T> {
  page: Page<T> | null;
  error: unknown;
  /** Ids that arrived since the previous poll: they flash once. */
  fresh: Set<string>;
  /** Loads again now (after a change the user made). */
  reload: () => void;
}

export function useLivePage<T extends { id: string }>(
  path: string,
  query: Query,
  live: boolean,
): LivePage<T> {
  const [page, setPage] = useState<Page<T> | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [fresh, setFresh] = useState<Set<string>>(new Set());
  const [tick, setTick] = useState(0);
  const seen = useRef<Set<string> | null>(null);
  const key = JSON.stringify(query);

  // New filters or another page: forget what was seen, so the list does not flash.
  // biome-ignore lint/correctness/useExhaustiveDependencies: key stands for the query
  useEffect(() => {
    seen.current = null;
    setPage(null);
  }, [path, key]);

  // biome-ignore lint/correctness/useExhaustiveDependencies: key stands for the query; tick reloads
  useEffect(() => {
    let stopped = false;
    let timer: number | undefined;
    let controller: AbortController | undefined;
    const load = async () => {
      controller = new AbortController();
      try {
        const next = await get<Page<T>>(path, query, controller.signal);
        if (stopped) return;
        if (seen.current) {
          const known = seen.current;
          const added = next.items.filter((item) => !known.has(item.id)).map((item) => item.id);
          if (added.length > 0) setFresh(new Set(added));
        }
        seen.current = new Set(next.items.map((item) => item.id));
        setPage(next);
        setError(null);
      } catch (failure) {
        if (stopped) return;
        setError(failure);
      }
      if (!stopped && live) timer = window.setTimeout(poll, POLL_MS);
    };
    const poll = () => {
      if (document.hidden) timer = window.setTimeout(poll, POLL_MS);
      else void load();
    };
    void load();
    return () => {
      stopped = true;
      controller?.abort();
      window.clearTimeout(timer);
    };
  }, [path, key, live, tick]);

  return { page, error, fresh, reload: () => setTick((n) => n + 1) };
}
