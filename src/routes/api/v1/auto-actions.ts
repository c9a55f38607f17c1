// /api/v1/campaigns/:id/auto-actions — when an event happens to a lead of the
// campaign (registration, first_deposit, deposit, deposit#N, a custom one),
// POST it to the bot's URL so its funnel moves the lead on.
import {
  type DestinationSettings,
  FORWARD_EVENT_PATTERN,
  normaliseForwardEvent,
  routeEvents,
} from '../../../domain/forwarding.js';
import { account } from '../../../http/auth.js';
import { AppError, notFound } from '../../../http/errors.js';
import { type App, Type } from '../../../http/json-schema.js';
import { changeDestination } from './change-destination.js';
import { presentAutoAction } from './present.js';
import { HttpUrl } from './schemas.js';
import { checkDestinationUrl } from './sources.js';

const CampaignParams = Type.Object({ id: Type.String({ minLength: 1, maxLength: 32 }) });
const ActionParams = Type.Object({
  id: Type.String({ minLength: 1, maxLength: 32 }),
  actionId: Type.String({ minLength: 1, maxLength: 32 }),
});

/** A bot's payload is echoed in every call; keep it small. */
const PAYLOAD_LIMIT = 8192;

const Fields = {
  event: Type.String({
    pattern: FORWARD_EVENT_PATTERN,
    maxLength: 40,
    description:
      'registration, first_deposit, deposit, deposit#N (the Nth repeat deposit), contact, or a custom event',
  }),
  url: HttpUrl,
  payload: Type.Object({}, { additionalProperties: true, description: 'sent back as is' }),
  enabled: Type.Boolean(),
};

export async function autoActionRoutes(app: App): Promise<void> {
  const { store, config, now } = app.deps;

  async function actionOf(workspaceId: string, campaignId: string, actionId: string) {
    const d = await store.getDestination(workspaceId, actionId);
    if (!d || d.campaignId !== campaignId || d.settings.kind !== 'auto_action') {
      throw notFound('auto action');
    }
    return { destination: d, action: d.settings.autoAction };
  }

  function checkPayload(payload: Record<string, unknown> | undefined): void {
    if (payload !== undefined && JSON.stringify(payload).length > PAYLOAD_LIMIT) {
      throw new AppError(
        400,
        'payload_too_large',
        `payload is over ${PAYLOAD_LIMIT} bytes of JSON`,
      );
    }
  }

  app.post(
    '/campaigns/:id/auto-actions',
    {
      schema: {
        tags: ['forwarding'],
        summary: "Call the bot's URL when an event happens to a lead of this campaign",
        params: CampaignParams,
        body: Type.Object(
          {
            event: Fields.event,
            url: Fields.url,
            payload: Type.Optional(Fields.payload),
            enabled: Type.Optional(Fields.enabled),
          },
          { additionalProperties: false },
        ),
      },
    },
    async (request, reply) => {
      const ws = account(request).workspace.id;
      const { id } = request.params;
      const body = request.body;
      if (!(await store.getCampaign(ws, id))) throw notFound('campaign');
      checkPayload(body.payload);
      const url = body.url.trim();
      await checkDestinationUrl(url, config.allowPrivateWebhooks);
      const event = normaliseForwardEvent(body.event);
      const settings: DestinationSettings = {
        kind: 'auto_action',
        autoAction: { event, url, payload: body.payload ?? {} },
      };
      const created = await store.createDestination(
        ws,
        id,
        {
          name: `${event} → ${new URL(url).host}`,
          enabled: body.enabled ?? true,
          settings,
          secret: null,
          routes: routeEvents(settings),
        },
        now(),
      );
      return reply.status(201).send(presentAutoAction(created));
    },
  );

  app.get(
    '/campaigns/:id/auto-actions',
    {
      schema: {
        tags: ['forwarding'],
        summary: "A campaign's auto actions",
        params: CampaignParams,
      },
    },
    async (request) => {
      const ws = account(request).workspace.id;
      const { id } = request.params;
      if (!(await store.getCampaign(ws, id))) throw notFound('campaign');
      const all = await store.listDestinations(ws, id);
      return { items: all.filter((d) => d.settings.kind === 'auto_action').map(presentAutoAction) };
    },
  );

  app.patch(
    '/campaigns/:id/auto-actions/:actionId',
    {
      schema: {
        tags: ['forwarding'],
        summary: 'Change an auto action',
        params: ActionParams,
        body: Type.Object(
          {
            event: Type.Optional(Fields.event),
            url: Type.Optional(Fields.url),
            payload: Type.Optional(Fields.payload),
            enabled: Type.Optional(Fields.enabled),
          },
          { additionalProperties: false },
        ),
      },
    },
    async (request) => {
      const ws = account(request).workspace.id;
      const { id, actionId } = request.params;
      const body = request.body;
      checkPayload(body.payload);
      const updated = await changeDestination(
        store,
        'auto action',
        async () => (await actionOf(ws, id, actionId)).destination,
        async (current) => {
          if (current.settings.kind !== 'auto_action') throw notFound('auto action');
          const action = current.settings.autoAction;
          const url = body.url?.trim() ?? action.url;
          if (body.url !== undefined) await checkDestinationUrl(url, config.allowPrivateWebhooks);
          const event = normaliseForwardEvent(body.event ?? action.event);
          const settings: DestinationSettings = {
            kind: 'auto_action',
            autoAction: { event, url, payload: body.payload ?? action.payload },
          };
          return {
            name: `${event} → ${new URL(url).host}`,
            enabled: body.enabled ?? current.enabled,
            settings,
            secret: null,
            routes: routeEvents(settings),
          };
        },
        now,
      );
      return presentAutoAction(updated);
    },
  );

  app.delete(
    '/campaigns/:id/auto-actions/:actionId',
    { schema: { tags: ['forwarding'], summary: 'Delete an auto action', params: ActionParams } },
    async (request, reply) => {
      const ws = account(request).workspace.id;
      const { id, actionId } = request.params;
      await actionOf(ws, id, actionId);
      if (!(await store.deleteDestination(ws, actionId, now()))) throw notFound('auto action');
      return reply.status(204).send();
    },
  );
}
