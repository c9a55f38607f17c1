// /api/v1/campaigns — campaign CRUD; each campaign's clickUrl is where ads point.
import { randomAlphanumeric } from '../../../domain/random-id.js';
import { account } from '../../../http/auth.js';
import { notFound } from '../../../http/errors.js';
import { type App, Type } from '../../../http/json-schema.js';
import { presentCampaign } from './present.js';
import { IdParams, Name } from './schemas.js';

const Fields = {
  name: Name,
  description: Type.String({ maxLength: 2000 }),
  buyer: Type.String({ maxLength: 100 }),
  destinationUrl: Type.String({
    maxLength: 2048,
    pattern: '^(https?://|tg://|$)',
    description:
      'Where a click goes, with macros, e.g. https://t.me/my_bot?start={{tracker.clickid}}',
  }),
};

const slug = () => randomAlphanumeric(8);

export async function campaignRoutes(app: App): Promise<void> {
  const { store, config, now } = app.deps;
  const present = (c: Parameters<typeof presentCampaign>[0]) =>
    presentCampaign(c, config.publicUrl);

  app.post(
    '/campaigns',
    {
      schema: {
        tags: ['campaigns'],
        summary: 'Create a campaign',
        body: Type.Object({
          name: Fields.name,
          description: Type.Optional(Fields.description),
          buyer: Type.Optional(Fields.buyer),
          destinationUrl: Type.Optional(Fields.destinationUrl),
        }),
      },
    },
    async (request, reply) => {
      const acc = account(request);
      const body = request.body;
      const campaign = await store.createCampaign(
        acc.workspace.id,
        {
          name: body.name.trim(),
          description: body.description ?? '',
          buyer: body.buyer?.trim() ?? '',
          destinationUrl: body.destinationUrl?.trim() ?? '',
        },
        slug,
        now(),
      );
      return reply.status(201).send(present(campaign));
    },
  );

  app.get(
    '/campaigns',
    { schema: { tags: ['campaigns'], summary: 'List campaigns' } },
    async (request) => {
      const acc = account(request);
      return { items: (await store.listCampaigns(acc.workspace.id)).map(present) };
    },
  );

  app.get(
    '/campaigns/:id',
    { schema: { tags: ['campaigns'], summary: 'One campaign', params: IdParams } },
    async (request) => {
      const acc = account(request);
      const { id } = request.params;
      const campaign = await store.getCampaign(acc.workspace.id, id);
      if (!campaign) throw notFound('campaign');
      return present(campaign);
    },
  );

  app.patch(
    '/campaigns/:id',
    {
      schema: {
        tags: ['campaigns'],
        summary: 'Change a campaign',
        params: IdParams,
        body: Type.Object({
          name: Type.Optional(Fields.name),
          description: Type.Optional(Fields.description),
          buyer: Type.Optional(Fields.buyer),
          destinationUrl: Type.Optional(Fields.destinationUrl),
        }),
      },
    },
    async (request) => {
      const acc = account(request);
      const { id } = request.params;
      const body = request.body;
      const campaign = await store.updateCampaign(acc.workspace.id, id, {
        ...body,
        name: body.name?.trim(),
        buyer: body.buyer?.trim(),
        destinationUrl: body.destinationUrl?.trim(),
      });
      if (!campaign) throw notFound('campaign');
      app.campaigns.invalidate(campaign.slug, campaign.id);
      return present(campaign);
    },
  );

  app.delete(
    '/campaigns/:id',
    {
      schema: {
        tags: ['campaigns'],
        summary: 'Delete a campaign (its click URL answers 404 after)',
        params: IdParams,
      },
    },
    async (request, reply) => {
      const acc = account(request);
      const { id } = request.params;
      const campaign = await store.getCampaign(acc.workspace.id, id);
      if (!campaign || !(await store.deleteCampaign(acc.workspace.id, id, now()))) {
        throw notFound('campaign');
      }
      app.campaigns.invalidate(campaign.slug, campaign.id);
      return reply.status(204).send();
    },
  );
}
