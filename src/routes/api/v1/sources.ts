// /api/v1/campaigns/:id/sources — where a campaign's events are forwarded:
// Facebook pixels (Conversions API) and webhooks (S2S postbacks, any endpoint).
// GET /api/v1/sources/failing — the failing ones of every campaign, for the home page.
import {
  ACTION_SOURCES,
  DEFAULT_FACEBOOK_MAPPING,
  type DestinationSettings,
  FACEBOOK_EVENT_PATTERN,
  FORWARD_EVENT_PATTERN,
  normaliseForwardEvent,
  routeEvents,
} from '../../../domain/forwarding.js';
import {
  FAILING_AFTER,
  FAILING_RETRIED_MS,
  HEALTH_WINDOW,
  PENDING_LIMIT,
  sourceHealth,
} from '../../../domain/source-health.js';
import { checkPublicUrl } from '../../../forwarders/outbound-http.js';
import { account } from '../../../http/auth.js';
import { AppError, notFound } from '../../../http/errors.js';
import { type App, type Static, type TSchema, Type } from '../../../http/json-schema.js';
import type { Destination } from '../../../store/store.js';
import { changeDestination } from './change-destination.js';
import { presentSource } from './present.js';
import { Name } from './schemas.js';

const CampaignParams = Type.Object({ id: Type.String({ minLength: 1, maxLength: 32 }) });
const SourceParams = Type.Object({
  id: Type.String({ minLength: 1, maxLength: 32 }),
  sourceId: Type.String({ minLength: 1, maxLength: 32 }),
});

const ForwardEvent = Type.String({ pattern: FORWARD_EVENT_PATTERN, maxLength: 40 });
const Mapping = Type.Record(
  Type.String({ pattern: FORWARD_EVENT_PATTERN }),
  Type.String({ pattern: FACEBOOK_EVENT_PATTERN }),
  {
    maxProperties: 64,
    description:
      'our event (click, contact, registration, first_deposit, deposit, deposit#N, custom) → Facebook event name',
  },
);

const Fields = {
  name: Name,
  enabled: Type.Boolean(),
  pixelId: Type.String({ pattern: '^[0-9]{5,25}$', description: 'Facebook pixel (dataset) id' }),
  accessToken: Type.String({ minLength: 10, maxLength: 1000, pattern: '^\\S+$' }),
  testEventCode: Type.Union([
    Type.String({ maxLength: 64, pattern: '^[A-Za-z0-9_-]*$' }),
    Type.Null(),
  ]),
  mapping: Mapping,
  actionSource: Type.Union(ACTION_SOURCES.map((a) => Type.Literal(a))),
  url: Type.String({
    maxLength: 2048,
    pattern: '^https?://',
    description:
      'macros: {clickid} {event} {amount} {currency} {tid} {external_id} {occurrence} {event_id} {timestamp} {fields.<key>}',
  }),
  method: Type.Union([Type.Literal('GET'), Type.Literal('POST')]),
  events: Type.Array(ForwardEvent, { maxItems: 64, description: 'empty: every conversion event' }),
  secret: Type.Union([Type.String({ minLength: 8, maxLength: 200 }), Type.Null()]),
};

const OrNull = <S extends TSchema>(s: S, description?: string) =>
  Type.Union([s, Type.Null()], description === undefined ? {} : { description });
const Time = (description: string) => OrNull(Type.String(), `ISO-8601 UTC; ${description}`);

/** What the delivery log says of a source (domain/source-health.ts). */
const Health = Type.Object(
  {
    state: Type.Union(
      ['ok', 'failing', 'idle', 'paused'].map((s) => Type.Literal(s)),
      {
        description: `failing: the last ${FAILING_AFTER} or more attempts failed with nothing delivered since, and one of them was refused for good (an invalid access token, a pixel that does not exist, a 404, or out of retries) or the first was ${FAILING_RETRIED_MS / 60_000} minutes ago or more; idle: nothing sent to it yet; paused: disabled; ok otherwise (a failure or two, or retries under way for less than ${FAILING_RETRIED_MS / 60_000} minutes)`,
      },
    ),
    lastDeliveredAt: Time('when an event last reached it; null if none has'),
    failedInARow: Type.Integer({
      description: `attempts failed since the last delivery (retried or not), among its newest ${HEALTH_WINDOW}`,
    }),
    failingSince: Time('the first of those failed attempts'),
    lastFailedAt: Time('the newest of them'),
    lastError: OrNull(
      Type.String(),
      "the newest one's error, as in the delivery log (e.g. HTTP 400: Invalid OAuth access token (code 190))",
    ),
    pending: Type.Integer({
      description: `events waiting to be sent or being sent, counted up to ${PENDING_LIMIT}`,
    }),
  },
  { description: 'whether its events get through, from the delivery log' },
);

/** A source as presentSource shapes it: the Facebook or the webhook fields, then its health. */
const SourceProperties = {
  id: Type.String(),
  campaignId: Type.String(),
  type: Type.String({ description: 'facebook or webhook' }),
  name: Type.String(),
  enabled: Type.Boolean(),
  createdAt: Type.String({ description: 'ISO-8601 UTC' }),
  updatedAt: Type.String({ description: 'ISO-8601 UTC' }),
  pixelId: Type.Optional(Type.String({ description: 'facebook' })),
  testEventCode: Type.Optional(OrNull(Type.String(), 'facebook')),
  mapping: Type.Optional(Type.Record(Type.String(), Type.String(), { description: 'facebook' })),
  actionSource: Type.Optional(Type.String({ description: 'facebook' })),
  hasAccessToken: Type.Optional(
    Type.Boolean({ description: 'facebook; the token itself is never returned' }),
  ),
  url: Type.Optional(Type.String({ description: 'webhook' })),
  method: Type.Optional(Type.String({ description: 'webhook' })),
  events: Type.Optional(Type.Array(Type.String(), { description: 'webhook' })),
  hasSecret: Type.Optional(Type.Boolean({ description: 'webhook' })),
  health: Health,
};
const SourceItem = Type.Object(SourceProperties);
/** A source of any campaign of the workspace: with its campaign's name. */
const WorkspaceSourceItem = Type.Object({
  ...SourceProperties,
  campaignName: Type.String(),
});

type ShownSource = ReturnType<typeof presentSource>;

const EVENT_KEY = new RegExp(FORWARD_EVENT_PATTERN);

const FACEBOOK_FIELDS = ['pixelId', 'accessToken', 'testEventCode', 'mapping', 'actionSource'];
const WEBHOOK_FIELDS = ['url', 'method', 'events', 'secret'];

/** A source's fields that may be left out, when it is created as when it changes. */
const OptionalFields = {
  enabled: Type.Optional(Fields.enabled),
  pixelId: Type.Optional(Fields.pixelId),
  accessToken: Type.Optional(Fields.accessToken),
  testEventCode: Type.Optional(Fields.testEventCode),
  mapping: Type.Optional(Fields.mapping),
  actionSource: Type.Optional(Fields.actionSource),
  url: Type.Optional(Fields.url),
  method: Type.Optional(Fields.method),
  events: Type.Optional(Fields.events),
  secret: Type.Optional(Fields.secret),
};

/** A change to a source: any of its fields but its type. */
const ChangeBody = Type.Object(
  { name: Type.Optional(Fields.name), ...OptionalFields },
  { additionalProperties: false },
);
type Body = Static<typeof ChangeBody>;

/**
 * A destination URL (macros allowed) must be http(s) and, unless the operator
 * allows it, must not point at loopback, private or link-local addresses.
 */
export async function checkDestinationUrl(template: string, allowPrivate: boolean): Promise<void> {
  const sample = template.replace(/\{[^{}]*\}/g, 'x');
  let url: URL;
  try {
    url = new URL(sample);
  } catch {
    throw new AppError(400, 'invalid_url', `"${template.slice(0, 100)}" is not a URL`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new AppError(400, 'invalid_url', 'the URL must start with http:// or https://');
  }
  if (url.username || url.password) {
    throw new AppError(400, 'invalid_url', 'put credentials in a secret, not in the URL');
  }
  if (allowPrivate) return;
  const refused = await checkPublicUrl(sample);
  if (refused) {
    throw new AppError(
      400,
      'private_address',
      `${refused.message}; webhooks may only reach public addresses (ALLOW_PRIVATE_WEBHOOKS)`,
    );
  }
}

function refuseForeignFields(body: Body, kind: 'facebook' | 'webhook'): void {
  const foreign = kind === 'facebook' ? WEBHOOK_FIELDS : FACEBOOK_FIELDS;
  const found = foreign.find((f) => body[f as keyof Body] !== undefined);
  if (found) {
    throw new AppError(400, 'invalid_field', `${found} does not apply to a ${kind} source`);
  }
}

/**
 * The mapping with its keys named as inbound events are (`sale` is
 * `first_deposit`, `emailconf` is `email_confirmation`). Two keys for one
 * event are fine when they agree, refused when they don't.
 */
function normaliseMapping(mapping: Record<string, string>): Record<string, string> {
  // A Map, then fromEntries: a key such as `__proto__` stays an own property.
  const out = new Map<string, string>();
  for (const [key, value] of Object.entries(mapping)) {
    const event = normaliseForwardEvent(key);
    const mapped = out.get(event);
    if (mapped !== undefined && mapped !== value) {
      throw new AppError(
        400,
        'invalid_mapping',
        `"${key.slice(0, 40)}" is ${event}, which is already mapped to ${mapped}`,
      );
    }
    out.set(event, value);
  }
  return Object.fromEntries(out);
}

export async function sourceRoutes(app: App): Promise<void> {
  const { store, config, now, secrets } = app.deps;

  async function campaignOf(workspaceId: string, campaignId: string) {
    const campaign = await store.getCampaign(workspaceId, campaignId);
    if (!campaign) throw notFound('campaign');
    return campaign;
  }

  /** Each source with its health, in one read of the delivery log per source. */
  async function present(sources: Destination[]) {
    const facts = await store.destinationHealth(sources.map((d) => d.id));
    const at = now();
    return sources.map((d, i) =>
      presentSource(d, sourceHealth(d.enabled, facts[i] as (typeof facts)[number], at)),
    );
  }
  const presentOne = async (d: Destination) => (await present([d]))[0] as ShownSource;

  async function sourceOf(workspaceId: string, campaignId: string, sourceId: string) {
    const d = await store.getDestination(workspaceId, sourceId);
    if (!d || d.campaignId !== campaignId || d.settings.kind === 'auto_action') {
      throw notFound('source');
    }
    return d;
  }

  /** The settings and secret after applying `body` to `current` (or to nothing, on create). */
  async function settle(
    kind: 'facebook' | 'webhook',
    body: Body,
    current: Destination | null,
  ): Promise<{ settings: DestinationSettings; secret: string | null }> {
    refuseForeignFields(body, kind);
    const badKey = Object.keys(body.mapping ?? {}).find((key) => !EVENT_KEY.test(key));
    if (badKey !== undefined) {
      throw new AppError(
        400,
        'invalid_mapping',
        `"${badKey.slice(0, 40)}" is not one of our events (a-z, 0-9, _; or deposit#N)`,
      );
    }
    if (kind === 'facebook') {
      const was = current?.settings.kind === 'facebook' ? current.settings.facebook : null;
      const pixelId = body.pixelId ?? was?.pixelId;
      if (!pixelId) throw new AppError(400, 'invalid_request', 'pixelId is required');
      if (!body.accessToken && !current?.secret) {
        throw new AppError(400, 'invalid_request', 'accessToken is required');
      }
      return {
        settings: {
          kind,
          facebook: {
            pixelId,
            testEventCode:
              body.testEventCode === undefined
                ? (was?.testEventCode ?? null)
                : body.testEventCode || null,
            mapping: normaliseMapping(
              body.mapping ?? was?.mapping ?? { ...DEFAULT_FACEBOOK_MAPPING },
            ),
            actionSource: body.actionSource ?? was?.actionSource ?? 'website',
          },
        },
        secret: body.accessToken ? secrets.encrypt(body.accessToken) : (current?.secret ?? null),
      };
    }
    const was = current?.settings.kind === 'webhook' ? current.settings.webhook : null;
    const url = body.url?.trim() ?? was?.url;
    if (!url) throw new AppError(400, 'invalid_request', 'url is required');
    if (body.url !== undefined) await checkDestinationUrl(url, config.allowPrivateWebhooks);
    const secret =
      body.secret === undefined
        ? (current?.secret ?? null)
        : body.secret === null
          ? null
          : secrets.encrypt(body.secret);
    return {
      settings: {
        kind,
        webhook: {
          url,
          method: body.method ?? was?.method ?? 'GET',
          events: [...new Set((body.events ?? was?.events ?? []).map(normaliseForwardEvent))],
        },
      },
      secret,
    };
  }

  app.post(
    '/campaigns/:id/sources',
    {
      schema: {
        tags: ['forwarding'],
        summary: 'Add a Facebook pixel or a webhook to a campaign',
        params: CampaignParams,
        body: Type.Object(
          {
            type: Type.Union([Type.Literal('facebook'), Type.Literal('webhook')]),
            name: Fields.name,
            ...OptionalFields,
          },
          { additionalProperties: false },
        ),
        response: { 201: SourceItem },
      },
    },
    async (request, reply) => {
      const ws = account(request).workspace.id;
      const { id } = request.params;
      const body = request.body;
      await campaignOf(ws, id);
      const { settings, secret } = await settle(body.type, body, null);
      const enabled = body.enabled ?? true;
      const source = await store.createDestination(
        ws,
        id,
        { name: body.name.trim(), enabled, settings, secret, routes: routeEvents(settings) },
        now(),
      );
      return reply.status(201).send(await presentOne(source));
    },
  );

  app.get(
    '/campaigns/:id/sources',
    {
      schema: {
        tags: ['forwarding'],
        summary: "A campaign's sources, each with its health",
        params: CampaignParams,
        response: { 200: Type.Object({ items: Type.Array(SourceItem) }) },
      },
    },
    async (request) => {
      const ws = account(request).workspace.id;
      const { id } = request.params;
      await campaignOf(ws, id);
      const all = await store.listDestinations(ws, id);
      return { items: await present(all.filter((d) => d.settings.kind !== 'auto_action')) };
    },
  );

  app.get(
    '/sources/failing',
    {
      schema: {
        tags: ['forwarding'],
        summary:
          "The workspace's failing sources, of every campaign, each with its campaign's name and its health",
        description:
          'For a warning where the user lands: the health is read only for the enabled sources whose newest attempt failed, so a workspace whose sources work costs one index step per source.',
        response: { 200: Type.Object({ items: Type.Array(WorkspaceSourceItem) }) },
      },
    },
    async (request) => {
      const ws = account(request).workspace.id;
      const suspects = await store.listDestinationsLastFailed(ws);
      const sources = suspects.filter((d) => d.settings.kind !== 'auto_action');
      if (sources.length === 0) return { items: [] };
      const failing = (await present(sources)).filter((s) => s.health.state === 'failing');
      if (failing.length === 0) return { items: [] };
      const names = new Map((await store.listCampaigns(ws)).map((c) => [c.id, c.name]));
      return {
        items: failing.map((s) => ({ ...s, campaignName: names.get(s.campaignId) ?? '' })),
      };
    },
  );

  app.get(
    '/campaigns/:id/sources/:sourceId',
    {
      schema: {
        tags: ['forwarding'],
        summary: 'One source, with its health',
        params: SourceParams,
        response: { 200: SourceItem },
      },
    },
    async (request) => {
      const ws = account(request).workspace.id;
      const { id, sourceId } = request.params;
      return presentOne(await sourceOf(ws, id, sourceId));
    },
  );

  app.patch(
    '/campaigns/:id/sources/:sourceId',
    {
      schema: {
        tags: ['forwarding'],
        summary: 'Change a source (a new accessToken or secret replaces the stored one)',
        params: SourceParams,
        body: ChangeBody,
        response: { 200: SourceItem },
      },
    },
    async (request) => {
      const ws = account(request).workspace.id;
      const { id, sourceId } = request.params;
      const body = request.body;
      const updated = await changeDestination(
        store,
        'source',
        () => sourceOf(ws, id, sourceId),
        async (current) => {
          const kind = current.settings.kind === 'facebook' ? 'facebook' : 'webhook';
          const { settings, secret } = await settle(kind, body, current);
          return {
            name: body.name?.trim() ?? current.name,
            enabled: body.enabled ?? current.enabled,
            settings,
            secret,
            routes: routeEvents(settings),
          };
        },
        now,
      );
      return presentOne(updated);
    },
  );

  app.delete(
    '/campaigns/:id/sources/:sourceId',
    {
      schema: {
        tags: ['forwarding'],
        summary: 'Delete a source (events queued for it are dropped; its logs stay)',
        params: SourceParams,
      },
    },
    async (request, reply) => {
      const ws = account(request).workspace.id;
      const { id, sourceId } = request.params;
      await sourceOf(ws, id, sourceId);
      if (!(await store.deleteDestination(ws, sourceId, now()))) throw notFound('source');
      return reply.status(204).send();
    },
  );
}
