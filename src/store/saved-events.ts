// Migration 12 (SQLite) and 11 (PostgreSQL): destinations saved before event
// names were normalised listened on a name no event is recorded under (an
// auto action on `emailconf`, where the postback is counted as
// `email_confirmation`), so they never fired. What each engine rewrites is
// worked out here, once for both.
import {
  type DestinationSettings,
  normaliseSavedSettings,
  routeEvents,
} from '../domain/forwarding.js';

export interface SavedDestination<Id> {
  id: Id;
  campaignId: Id;
  enabled: boolean;
  deleted: boolean;
  /** The settings column, JSON. */
  settings: string;
}

export interface Rewrite<Id> {
  id: Id;
  campaignId: Id;
  settings: string;
  /** The destination's routes from now on; null: it has none (disabled or deleted). */
  routes: string[] | null;
}

/** The destinations whose settings name an event by an alias, with what they become. */
export function savedEventRewrites<Id>(rows: SavedDestination<Id>[]): Rewrite<Id>[] {
  const rewrites: Rewrite<Id>[] = [];
  for (const row of rows) {
    const was = JSON.parse(row.settings) as DestinationSettings;
    const now = normaliseSavedSettings(was);
    const settings = JSON.stringify(now);
    if (settings === JSON.stringify(was)) continue;
    rewrites.push({
      id: row.id,
      campaignId: row.campaignId,
      settings,
      routes: row.enabled && !row.deleted ? routeEvents(now) : null,
    });
  }
  return rewrites;
}
