// Network presets: which parameter carries the clickid, which macros the
// network fills in, and which ready-to-paste links a postback configuration gets.
import { DEPOSIT, FIRST_DEPOSIT, REGISTRATION, WITHDRAWAL } from './events.js';

export const NETWORKS = ['1win', 'binomo', 'pocket_option', 'custom'] as const;
export type Network = (typeof NETWORKS)[number];

export interface NetworkMacros {
  clickid?: string;
  amount?: string;
  currency?: string;
  tid?: string;
}

interface LinkSpec {
  /** Key in the `links` object of the API answer. */
  key: string;
  event: string;
  /** Sends the amount (and currency, tid) macros. */
  money: boolean;
}

interface Preset {
  label: string;
  clickidParam: string;
  macros: NetworkMacros;
  /**
   * `query`: our query template with the network's macros in place.
   * `bare`: a path per event with no `?` at all, because the network
   * (Binpartner) rejects a query string and appends its own parameters.
   */
  style: 'query' | 'bare';
  links: LinkSpec[];
  /** Extra `name=macro` pairs, e.g. the trader id Pocket Option reports. */
  extra?: string;
}

const CORE_LINKS: LinkSpec[] = [
  { key: 'registration', event: REGISTRATION, money: false },
  { key: 'firstDeposit', event: FIRST_DEPOSIT, money: true },
  { key: 'deposit', event: DEPOSIT, money: true },
];

export const PRESETS: Record<Network, Preset> = {
  '1win': {
    label: '1Win',
    clickidParam: 'sub1',
    macros: { amount: '{amount}', tid: '{event_id}' },
    style: 'query',
    links: CORE_LINKS,
  },
  binomo: {
    label: 'Binomo',
    clickidParam: 'click_id',
    macros: {},
    style: 'bare',
    links: [...CORE_LINKS, { key: 'emailConfirmation', event: 'email_confirmation', money: false }],
  },
  pocket_option: {
    label: 'Pocket Option',
    clickidParam: 'click_id',
    macros: { amount: '{sumdep}' },
    style: 'query',
    links: [
      ...CORE_LINKS,
      { key: 'emailConfirmation', event: 'email_confirmation', money: false },
      { key: 'withdrawal', event: WITHDRAWAL, money: true },
      { key: 'commission', event: 'commission', money: true },
    ],
    extra: 'fields.trader_id={trader_id}',
  },
  custom: {
    label: 'Custom',
    clickidParam: 'subid',
    macros: { amount: '{payout}', tid: '{tid}' },
    style: 'query',
    links: CORE_LINKS,
  },
};

export interface LinkConfig {
  network: Network;
  token: string;
  clickidParam: string;
  macros: NetworkMacros;
}

/** The network's macro for the clickid: `{sub1}` when 1Win's clickid travels in sub1. */
export function effectiveMacros(network: Network, clickidParam: string, macros: NetworkMacros) {
  const preset = PRESETS[network];
  return {
    clickid: macros.clickid ?? `{${clickidParam}}`,
    amount: macros.amount ?? preset.macros.amount,
    currency: macros.currency ?? preset.macros.currency,
    tid: macros.tid ?? preset.macros.tid,
  } satisfies NetworkMacros;
}

/** Absolute, ready-to-paste links, one per event the network reports. */
export function postbackLinks(publicUrl: string, config: LinkConfig): Record<string, string> {
  const preset = PRESETS[config.network];
  const macros = effectiveMacros(config.network, config.clickidParam, config.macros);
  const base = `${publicUrl.replace(/\/+$/, '')}/api/postbacks/${config.token}`;
  const links: Record<string, string> = {};
  for (const spec of preset.links) {
    if (preset.style === 'bare') {
      links[spec.key] = `${base}/${spec.event}`;
      continue;
    }
    const pairs = [`clickid=${macros.clickid}`];
    if (spec.money && macros.amount) pairs.push(`amount=${macros.amount}`);
    if (spec.money && macros.currency) pairs.push(`currency=${macros.currency}`);
    if (spec.money && macros.tid) pairs.push(`tid=${macros.tid}`);
    if (preset.extra) pairs.push(preset.extra);
    links[spec.key] = `${base}/${spec.event}?${pairs.join('&')}`;
  }
  return links;
}
