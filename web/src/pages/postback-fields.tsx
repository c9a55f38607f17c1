// The fields of a postback configuration, shared by Create Postback and a
// postback's Edit form: name, network, campaign, clickid parameter, default
// currency, and a custom network's macros.
import { type Campaign, type Macros, NETWORKS, type Network, type Postback } from '../api';
import { type MessageKey, useI18n } from '../i18n';
import { Field } from '../ui/common';
import { networkLabel } from './postbacks';

export interface PostbackFormValues {
  name: string;
  network: Network;
  /** '' is all campaigns. */
  campaignId: string;
  clickidParam: string;
  currency: string;
  macros: Required<Macros>;
}

const MACRO_KEYS = ['clickid', 'amount', 'currency', 'tid'] as const;

/** Each preset's parameter for our clickid, as the API fills it in (src/domain/presets.ts). */
const PRESET_CLICKID_PARAM: Record<Network, string> = {
  '1win': 'sub1',
  binomo: 'click_id',
  pocket_option: 'click_id',
  custom: 'subid',
};

/** What a custom network's macro fields start with. */
const CUSTOM_MACROS: Required<Macros> = {
  clickid: '',
  amount: '{payout}',
  currency: '',
  tid: '{tid}',
};

const PARAM_HINTS: Record<Network, MessageKey> = {
  '1win': 'postbacks.oneWinSubHint',
  binomo: 'postbacks.binomoParamHint',
  pocket_option: 'postbacks.pocketOptionParamHint',
  custom: 'postbacks.clickidParamHint',
};

export function newPostbackForm(): PostbackFormValues {
  return {
    name: '',
    network: '1win',
    campaignId: '',
    clickidParam: PRESET_CLICKID_PARAM['1win'],
    currency: 'USD',
    macros: { ...CUSTOM_MACROS },
  };
}

/** The form as a saved configuration fills it. */
export function postbackForm(postback: Postback): PostbackFormValues {
  const macros =
    postback.network === 'custom'
      ? {
          clickid: postback.macros.clickid ?? '',
          amount: postback.macros.amount ?? '',
          currency: postback.macros.currency ?? '',
          tid: postback.macros.tid ?? '',
        }
      : { ...CUSTOM_MACROS };
  return {
    name: postback.name,
    network: postback.network,
    campaignId: postback.campaignId ?? '',
    clickidParam: postback.clickidParam,
    currency: postback.currency,
    macros,
  };
}

/** The macros that were filled in, in one order: empty ones are the preset's. */
export function chosenMacros(macros: Macros): Macros {
  const chosen: Macros = {};
  for (const key of MACRO_KEYS) {
    const value = macros[key]?.trim();
    if (value) chosen[key] = value;
  }
  return chosen;
}

/**
 * The configuration as the API takes it. Macros only for a custom network:
 * a preset's come from the preset.
 */
export function postbackBody(form: PostbackFormValues) {
  return {
    name: form.name.trim(),
    network: form.network,
    campaignId: form.campaignId || null,
    clickidParam: form.clickidParam.trim(),
    currency: form.currency.trim().toUpperCase(),
    ...(form.network === 'custom' ? { macros: chosenMacros(form.macros) } : {}),
  };
}

export function PostbackFields({
  value,
  onChange,
  campaigns,
}: {
  value: PostbackFormValues;
  onChange: (next: PostbackFormValues) => void;
  campaigns: Campaign[] | undefined;
}) {
  const { t } = useI18n();
  const set = <K extends keyof PostbackFormValues>(key: K, next: PostbackFormValues[K]) =>
    onChange({ ...value, [key]: next });

  /** Which network parameter carries the clickid: 1Win's sub field, Binpartner's, a custom network's. */
  const clickidParamField = (className: string) => (
    <Field label={t('postbacks.clickidParam')} hint={t(PARAM_HINTS[value.network])}>
      {(id, hintId) => (
        <input
          id={id}
          className={className}
          required
          maxLength={64}
          pattern="[A-Za-z0-9_.\-]+"
          aria-describedby={hintId}
          value={value.clickidParam}
          onChange={(e) => set('clickidParam', e.target.value)}
        />
      )}
    </Field>
  );

  const macroField = (key: keyof Macros, label: string, placeholder: string) => (
    <Field label={label} optional>
      {(id) => (
        <input
          id={id}
          className="mono"
          maxLength={100}
          placeholder={placeholder}
          value={value.macros[key]}
          onChange={(e) => set('macros', { ...value.macros, [key]: e.target.value })}
        />
      )}
    </Field>
  );

  return (
    <>
      <Field label={t('common.name')}>
        {(id) => (
          <input
            id={id}
            required
            maxLength={200}
            placeholder={t('postbacks.namePlaceholder')}
            value={value.name}
            onChange={(e) => set('name', e.target.value)}
          />
        )}
      </Field>
      <Field label={t('postbacks.network')}>
        {(id) => (
          <select
            id={id}
            value={value.network}
            onChange={(e) => {
              const network = e.target.value as Network;
              // Another network names the clickid its own way.
              onChange({ ...value, network, clickidParam: PRESET_CLICKID_PARAM[network] });
            }}
          >
            {NETWORKS.map((n) => (
              <option key={n} value={n}>
                {networkLabel(t, n)}
              </option>
            ))}
          </select>
        )}
      </Field>
      <Field label={t('postbacks.campaign')} hint={t('postbacks.campaignHint')} optional>
        {(id, hint) => (
          <select
            id={id}
            aria-describedby={hint}
            value={value.campaignId}
            onChange={(e) => set('campaignId', e.target.value)}
          >
            <option value="">{t('postbacks.allCampaigns')}</option>
            {campaigns?.map((c) => (
              <option key={c.id} value={c.id}>
                {c.name}
              </option>
            ))}
            {/* Still chosen while the campaign list loads. */}
            {value.campaignId && !campaigns?.some((c) => c.id === value.campaignId) && (
              <option value={value.campaignId}>{value.campaignId}</option>
            )}
          </select>
        )}
      </Field>
      {value.network === 'custom' ? (
        <fieldset className="subform">
          <legend>{t('postbacks.customSection')}</legend>
          {clickidParamField('mono')}
          <div className="grid-2">
            {macroField(
              'clickid',
              t('postbacks.macroClickid'),
              `{${value.clickidParam || PRESET_CLICKID_PARAM.custom}}`,
            )}
            {macroField('amount', t('postbacks.macroAmount'), '{payout}')}
            {macroField('currency', t('postbacks.macroCurrency'), '{currency}')}
            {macroField('tid', t('postbacks.macroTid'), '{tid}')}
          </div>
          <p className="hint">{t('postbacks.macrosHint')}</p>
        </fieldset>
      ) : (
        clickidParamField('mono short')
      )}
      <Field label={t('postbacks.defaultCurrency')} hint={t('postbacks.defaultCurrencyHint')}>
        {(id, hint) => (
          <input
            id={id}
            className="short"
            required
            maxLength={5}
            pattern="\s*[A-Za-z]{3,4}\s*"
            title={t('postbacks.currencyFormat')}
            autoCapitalize="characters"
            aria-describedby={hint}
            value={value.currency}
            onChange={(e) => set('currency', e.target.value)}
          />
        )}
      </Field>
    </>
  );
}
