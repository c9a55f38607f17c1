// /api/v1/postbacks — postback configurations with network presets, their
// ready-to-paste links, and the registration-link builder.
import { parameterRole } from '../../../domain/inbound-postback.js';
import { isCurrency } from '../../../domain/money.js';
import { NETWORKS, PRESETS } from '../../../domain/presets.js';
import { randomAlphanumeric } from '../../../domain/random-id.js';
import { buildRegistrationLink } from '../../../domain/registration-link.js';
import { account } from '../../../http/auth.js';
import { AppError, notFound } from '../../../http/errors.js';
import { type App, type Static, Type } from '../../../http/json-schema.js';
import type { PostbackInput } from '../../../store/store.js';
import { presentPostback } from './present.js';
import { HttpUrl, IdParams, Name } from './schemas.js';

const Macro = Type.String({ minLength: 1, maxLength: 100, pattern: '^[^\\s&#?]+$' });
const Fields = {
  name: Name,
  network: Type.Union(NETWORKS.map((n) => Type.Literal(n))),
  campaignId: Type.Union([Type.String({ maxLength: 32 }), Type.Null()]),
  clickidParam: Type.String({ minLength: 1, maxLength: 64, pattern: '^[A-Za-z0-9_.-]+$' }),
  currency: Type.String({ minLength: 3, maxLength: 5 }),
  macros: Type.Object(
    {
      clickid: Type.Optional(Macro),
      amount: Type.Optional(Macro),
      currency: Type.Optional(Macro),
      tid: Type.Optional(Macro),
    },
    { additionalProperties: false },
  ),
  enabled: Type.Boolean(),
};

/** The fields that may be left out, when a configuration is created as when it changes. */
const OptionalFields = {
  campaignId: Type.Optional(Fields.campaignId),
  clickidParam: Type.Optional(Fields.clickidParam),
  currency: Type.Optional(Fields.currency),
  macros: Type.Optional(Fields.macros),
  enabled: Type.Optional(Fields.enabled),
};

/** A change to a postback configuration: any of its fields. */
const ChangeBody = Type.Object({
  name: Type.Optional(Fields.name),
  network: Type.Optional(Fields.network),
  ...OptionalFields,
});
type Body = Static<typeof ChangeBody>;

/** A postback token: 24 characters of [A-Za-z0-9], ~143 bits; it is the secret in the URL. */
const newPostbackToken = () => randomAlphanumeric(24);

export async function postbackRoutes(app: App): Promise<void> {
  const { store, config, now } = app.deps;
  const present = (p: Parameters<typeof presentPostback>[0]) =>
    presentPostback(p, config.publicUrl);

  async function checkBody(workspaceId: string, body: Body): Promise<void> {
    if (body.currency !== undefined && !isCurrency(body.currency.toUpperCase())) {
      throw new AppError(400, 'invalid_currency', `"${body.currency}" is not an ISO 4217 code`);
    }
    const carries = body.clickidParam === undefined ? null : parameterRole(body.clickidParam);
    if (carries !== null) {
      throw new AppError(
        400,
        'invalid_clickid_param',
        `"${body.clickidParam}" already carries ${carries} in a postback: name the parameter your network puts the clickid in`,
      );
    }
    if (body.campaignId) {
      const campaign = await store.getCampaign(workspaceId, body.campaignId);
      if (!campaign) throw new AppError(404, 'not_found', 'campaign not found');
    }
  }

  app.post(
    '/postbacks',
    {
      schema: {
        tags: ['postbacks'],
        summary: 'Create a postback configuration; answers with its ready-to-paste links',
        body: Type.Object({ name: Fields.name, network: Fields.network, ...OptionalFields }),
      },
    },
    async (request, reply) => {
      const acc = account(request);
      const body = request.body;
      await checkBody(acc.workspace.id, body);
      const input: PostbackInput = {
        name: body.name.trim(),
        network: body.network,
        campaignId: body.campaignId || null,
        clickidParam: body.clickidParam ?? PRESETS[body.network].clickidParam,
        currency: (body.currency ?? 'USD').toUpperCase(),
        macros: body.macros ?? {},
        enabled: body.enabled ?? true,
      };
      const postback = await store.createPostback(
        acc.workspace.id,
        input,
        newPostbackToken(),
        now(),
      );
      return reply.status(201).send(present(postback));
    },
  );

  app.get(
    '/postbacks',
    { schema: { tags: ['postbacks'], summary: 'List postback configurations' } },
    async (request) => {
      const acc = account(request);
      return { items: (await store.listPostbacks(acc.workspace.id)).map(present) };
    },
  );

  app.get(
    '/postbacks/:id',
    {
      schema: {
        tags: ['postbacks'],
        summary: 'One postback configuration with its links',
        params: IdParams,
      },
    },
    async (request) => {
      const acc = account(request);
      const postback = await store.getPostback(acc.workspace.id, request.params.id);
      if (!postback) throw notFound('postback');
      return present(postback);
    },
  );

  app.patch(
    '/postbacks/:id',
    {
      schema: {
        tags: ['postbacks'],
        summary: 'Change a postback configuration (enabled:false pauses its token)',
        description:
          "Any of its fields; the token, and so every link already pasted, stays the same. A change of network takes that network's clickidParam and macros unless it names them.",
        params: IdParams,
        body: ChangeBody,
      },
    },
    async (request) => {
      const acc = account(request);
      const body = request.body;
      await checkBody(acc.workspace.id, body);
      const patch: Partial<PostbackInput> = {
        ...body,
        campaignId: body.campaignId === undefined ? undefined : body.campaignId || null,
      };
      if (patch.campaignId === undefined) delete patch.campaignId;
      if (body.currency) patch.currency = body.currency.toUpperCase();
      if (body.name) patch.name = body.name.trim();
      if (body.network !== undefined) {
        const current = await store.getPostback(acc.workspace.id, request.params.id);
        if (!current) throw notFound('postback');
        // Another network fills other macros: its links take its own clickid
        // parameter and macros, as when created, unless this change names them.
        // The old network's would give links with macros it never fills.
        if (current.network !== body.network) {
          patch.clickidParam = body.clickidParam ?? PRESETS[body.network].clickidParam;
          patch.macros = body.macros ?? {};
        }
      }
      const postback = await store.updatePostback(acc.workspace.id, request.params.id, patch);
      if (!postback) throw notFound('postback');
      app.postbacks.invalidate(postback.token);
      return present(postback);
    },
  );

  app.delete(
    '/postbacks/:id',
    {
      schema: {
        tags: ['postbacks'],
        summary: 'Delete a postback configuration: its token answers 404 after, still logged',
        params: IdParams,
      },
    },
    async (request, reply) => {
      const acc = account(request);
      const { id } = request.params;
      const postback = await store.getPostback(acc.workspace.id, id);
      if (!postback || !(await store.deletePostback(acc.workspace.id, id, now()))) {
        throw notFound('postback');
      }
      app.postbacks.invalidate(postback.token);
      return reply.status(204).send();
    },
  );

  app.post(
    '/postbacks/:id/registration-link',
    {
      schema: {
        tags: ['postbacks'],
        summary:
          "The network's registration link with the clickid parameter as {{tracker.clickid}}",
        params: IdParams,
        body: Type.Object({ baseUrl: HttpUrl }),
      },
    },
    async (request) => {
      const acc = account(request);
      const postback = await store.getPostback(acc.workspace.id, request.params.id);
      if (!postback) throw notFound('postback');
      const { baseUrl } = request.body;
      try {
        new URL(baseUrl);
      } catch {
        throw new AppError(400, 'invalid_url', 'baseUrl is not an absolute URL');
      }
      return { url: buildRegistrationLink(baseUrl.trim(), postback.clickidParam) };
    },
  );
}
