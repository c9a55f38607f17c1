// English and Russian: one dictionary per language (Russian must cover every key),
// the chosen language remembered in localStorage, numbers/dates/money via Intl.
import {
  createContext,
  type ReactNode,
  useCallback,
  useContext,
  useEffect,
  useMemo,
  useState,
} from 'react';
import { moneyFormatter } from './money-format';

const en = {
  'app.name': 'Clickback',
  'common.loading': 'Loading…',
  'common.retry': 'Try again',
  'common.save': 'Save',
  'common.saving': 'Saving…',
  'common.saved': 'Saved',
  'common.cancel': 'Cancel',
  'common.create': 'Create',
  'common.delete': 'Delete',
  'common.edit': 'Edit',
  'common.copy': 'Copy',
  'common.copied': 'Copied',
  'common.copyFailed': 'Copy failed — select the text and press Ctrl+C',
  'common.close': 'Close',
  'common.search': 'Search',
  'common.prev': 'Previous',
  'common.next': 'Next',
  'common.pageN': 'Page {n}',
  'common.all': 'All',
  'common.optional': 'optional',
  'common.yes': 'Yes',
  'common.no': 'No',
  'common.back': 'Back',
  'common.created': 'Created',
  'common.name': 'Name',
  'common.total': 'Total',
  'common.notFound': 'Not found',
  'common.pageNotFound': 'There is no page at this address.',
  'common.goHome': 'Go to the start page',
  'common.error': 'Something went wrong',
  'common.confirmDelete': 'Delete “{name}”? This cannot be undone.',

  'err.network_error': 'The server cannot be reached. Check your connection and try again.',
  'err.invalid_credentials': 'Wrong email or password.',
  'err.email_taken': 'An account with this email already exists. Log in instead.',
  'err.weak_password': 'The password is too weak: use at least 8 characters.',
  'err.invalid_email': 'That is not an email address.',
  'err.signup_closed': 'Sign-up is closed on this installation. Ask the owner for an account.',
  'err.unauthorized': 'Your session has ended. Log in again.',
  'err.not_found': 'It no longer exists or belongs to another workspace.',
  'err.private_address':
    'This URL points at a private or local address: webhooks may only reach public ones (ALLOW_PRIVATE_WEBHOOKS=true on the server lifts this).',
  'err.in_flight':
    'This event is being sent right now. If that attempt fails, retry it once it shows here.',
  'err.conflict': 'Someone else kept changing this at the same moment. Reload it and save again.',
  'err.invalid_currency':
    'That is not a currency code we know: use an ISO 4217 code such as USD, EUR or RUB, or USDT, USDC, BTC, ETH, TRX, TON.',

  'auth.loginTitle': 'Log in',
  'auth.signupTitle': 'Create a workspace',
  'auth.tagline': 'Conversion tracking for Telegram-bot funnels',
  'auth.email': 'Email',
  'auth.password': 'Password',
  'auth.passwordHint': 'At least 8 characters.',
  'auth.workspaceName': 'Workspace name',
  'auth.workspaceHint': 'Your team or project, e.g. “Aviator team”.',
  'auth.login': 'Log in',
  'auth.signup': 'Create account',
  'auth.noAccount': 'No account yet?',
  'auth.toSignup': 'Create one',
  'auth.haveAccount': 'Already have an account?',
  'auth.toLogin': 'Log in',
  'auth.logout': 'Log out',

  'nav.main': 'Main menu',
  'nav.home': 'Home',
  'nav.tracker': 'Tracker',
  'nav.language': 'Language',
  'nav.sections': 'Tracker sections',
  'nav.campaigns': 'Campaigns',
  'nav.postbacks': 'Postbacks',
  'nav.leads': 'Leads',
  'nav.logs': 'Logs',
  'nav.analytics': 'Analytics',
  'nav.dashboard': 'Dashboard',
  'nav.campaignSections': 'Campaign sections',
  'nav.campaignSettings': 'Settings',
  'nav.sources': 'Sources',
  'nav.autoActions': 'Auto actions',
  'nav.logKinds': 'Kinds of logs',
  'nav.postbackLogs': 'Postback logs',
  'nav.sourceLogs': 'Source logs',

  'apiKeys.title': 'API keys for your bot and scripts',
  'apiKeys.lead':
    'The bot sends its leads and chats to Clickback with a key: Authorization: Bearer <key>.',
  'apiKeys.docs': 'API reference',
  'apiKeys.name': 'Name',
  'apiKeys.namePlaceholder': 'e.g. Aviator bot',
  'apiKeys.create': 'Create key',
  'apiKeys.createdKey': 'Key for {name}',
  'apiKeys.shownOnce': 'Copy it now: it is shown only once.',
  'apiKeys.key': 'Key',
  'apiKeys.created': 'Created',
  'apiKeys.lastUsed': 'Last used',
  'apiKeys.never': 'never',
  'apiKeys.revoke': 'Revoke',
  'apiKeys.confirmRevoke': 'Revoke "{name}"? Whatever uses it stops working at once.',
  'home.title': 'Welcome, {name}',
  'home.lead':
    'Click the Facebook icon in the menu to open the tracker. Setting up takes three steps:',
  'home.step1':
    'Create a campaign and put its click URL in your ads. Each click gets a clickid and goes to your bot.',
  'home.step2':
    'Create a postback for your affiliate network and paste its Registration, First Deposit and Deposit links into the network.',
  'home.step3':
    'Give leads the registration link with {{tracker.clickid}} inside, then watch Postback logs and Analytics.',
  'home.open': 'Get started',
  'home.done': 'done',
  'home.failingTitle':
    'Events are not reaching {n} of your sources: every recent attempt failed, so the ad platform or tracker does not learn of these conversions.',
  'home.failingCampaign': 'in campaign {name}',
  'home.failingSince': '{n} attempts in a row failed; nothing delivered since {since}.',
  'home.failingNever': '{n} attempts in a row failed; nothing has been delivered yet.',
  'home.failingLog': 'Open its log',
  'home.failingSources': 'Campaign sources',

  'campaigns.title': 'Campaigns',
  'campaigns.new': 'New campaign',
  'campaigns.failingSources':
    'Events are not reaching {n} of this campaign’s sources: every recent attempt failed.',
  'campaigns.failingSourcesOpen': 'Open sources',
  'campaigns.editTitle': 'Edit campaign',
  'campaigns.description': 'Description',
  'campaigns.buyer': 'Buyer',
  'campaigns.buyerHint': 'The media buyer who runs it; Analytics can group by buyer.',
  'campaigns.destination': 'Destination',
  'campaigns.destinationHint':
    'Where a click goes. Put {{tracker.clickid}} where the clickid belongs, e.g. https://t.me/my_bot?start={{tracker.clickid}}',
  'campaigns.insertMacro': 'Insert {{tracker.clickid}}',
  'campaigns.destinationFormat': 'A link starting with https://, http:// or tg://',
  'campaigns.clickUrl': 'Click URL',
  'campaigns.clickUrlHint':
    'Put this link in your ads. Add the source’s macros to it, e.g. ?utm_campaign={{campaign.name}}&utm_content={{ad.name}} (Facebook adds fbclid itself).',
  'campaigns.emptyTitle': 'No campaigns yet',
  'campaigns.emptyText':
    'A campaign gives you a click URL for your ads. Every click gets a clickid and is sent on to your bot, prelander or offer.',
  'campaigns.created': 'Campaign created. Put its click URL in your ads.',
  'campaigns.leads': 'Leads of this campaign',

  'postbacks.title': 'Postbacks',
  'postbacks.create': 'Create Postback',
  'postbacks.network': 'Affiliate Network',
  'postbacks.campaign': 'Campaign',
  'postbacks.allCampaigns': 'All campaigns',
  'postbacks.campaignHint':
    'Leave empty to share this postback across all campaigns — usually what you want.',
  'postbacks.namePlaceholder': 'e.g. 1Win',
  'postbacks.clickidParam': 'Clickid parameter',
  'postbacks.clickidParamHint':
    'The network parameter that carries our clickid (sub1, subid, click_id…).',
  'postbacks.macroClickid': 'Clickid macro',
  'postbacks.macroAmount': 'Amount macro',
  'postbacks.macroCurrency': 'Currency macro',
  'postbacks.macroTid': 'Transaction id macro',
  'postbacks.macrosHint':
    'The network’s own placeholders, as its documentation spells them: Keitaro {subid} {payout} {tid}, Binom {cnv_id} {payout}, Voluum {cid} {payout} {txid}.',
  'postbacks.defaultCurrency': 'Default currency',
  'postbacks.defaultCurrencyHint': 'Used when a postback carries no currency.',
  'postbacks.currencyFormat': 'A currency code, e.g. USD, EUR, RUB or USDT.',
  'postbacks.binomoParamHint':
    "The parameter Binpartner appends our clickid in: click_id, unless it was renamed in Binpartner's panel.",
  'postbacks.pocketOptionParamHint':
    'Pocket Option sends our clickid back in click_id; the links ask for it as {click_id}.',
  'postbacks.editTitle': 'Postback settings',
  'postbacks.editTokenKept':
    'The token stays the same, so the links already pasted into {network} keep reaching this postback. Changes apply from the next postback it receives.',
  'postbacks.editLinksChange':
    'These changes alter the links (clickid parameter, macros or network): after saving, paste the new links into the network in place of the old ones.',
  'postbacks.savedSameLinks':
    'Saved. The token and the links are the same: nothing to change in the network.',
  'postbacks.savedNewLinks':
    'Saved. The token is the same, but the links changed: paste the new ones below into {network} in place of the old ones.',
  'postbacks.savedNewParam':
    "Your bot's registration link must now carry the clickid in {param}: rebuild it with the builder.",
  'postbacks.customSection': 'Custom network',
  'postbacks.emptyTitle': 'No postbacks yet',
  'postbacks.emptyText':
    'A postback gives you three links — Registration, First Deposit and Deposit. Paste each into the matching field of your affiliate network’s postback settings; the network then calls them when a lead registers or deposits, and the events show up in Logs, Leads and Analytics.',
  'postbacks.links': 'Postback links',
  'postbacks.linksHint':
    'Paste each link into the matching field of the network’s postback settings and activate it.',
  'postbacks.created': 'Postback created. Copy the links below into {network}.',
  'postbacks.paused': 'Paused',
  'postbacks.confirmPause':
    'Pause "{name}"? While it is paused, its postbacks are answered 403 and not counted, and networks do not send them again.',
  'postbacks.oneWinSubHint':
    "Which of 1Win's free sub fields carries our clickid: the one your registration link fills (Chatterfy's preset uses sub4).",
  'postbacks.active': 'Active',
  'postbacks.pause': 'Pause',
  'postbacks.resume': 'Resume',
  'postbacks.builder': 'Registration link builder',
  'postbacks.builderHint':
    'Paste the network’s registration link. We add the clickid parameter ({param}) with {{tracker.clickid}} — give the result to your bot.',
  'postbacks.baseLink': 'Network link',
  'postbacks.build': 'Build link',
  'postbacks.finalLink': 'Registration link',
  'postbacks.network.1win.tip':
    '1Win: partner panel → Postbacks. The clickid travels in {param}; your registration link must carry it.',
  'postbacks.network.binomo.tip':
    'Binomo (Binpartner): paste the links as they are, without a “?”. Binpartner appends {param} and its own parameters.',
  'postbacks.network.pocket_option.tip':
    'Pocket Option: affiliate panel → Postbacks. The trader id is saved on the lead as a custom field.',
  'postbacks.network.custom.tip':
    'Custom: the links use the parameter and macros you chose. Check them against the network’s documentation.',
  'postbacks.viewLogs': 'Open its logs',
  'postbacks.deleteDone': 'Postback deleted. Its links now answer 404.',

  'network.custom': 'Custom',
  'link.registration': 'Registration',
  'link.firstDeposit': 'First Deposit',
  'link.deposit': 'Deposit',
  'link.emailConfirmation': 'Email confirmation',
  'link.withdrawal': 'Withdrawal',
  'link.commission': 'Commission',

  'event.registration': 'Registration',
  'event.first_deposit': 'First deposit',
  'event.deposit': 'Deposit',
  'event.withdrawal': 'Withdrawal',
  'event.email_confirmation': 'Email confirmation',
  'event.commission': 'Commission',
  'event.custom': 'Custom event',

  'leads.title': 'Leads',
  'leads.searchLabel': 'Search leads',
  'leads.searchPlaceholder': 'clickid start, external id, username',
  'leads.searchHint':
    'A clickid by its first characters (upper and lower case differ) or whole, an external id exactly, or part of a username.',
  'leads.clickid': 'Clickid',
  'leads.campaign': 'Campaign',
  'leads.externalId': 'External id',
  'leads.registered': 'Registered',
  'leads.ftd': 'FTD',
  'leads.deposits': 'Deposits',
  'leads.lastEvent': 'Last event',
  'leads.organic': 'Organic',
  'leads.emptyTitle': 'No leads yet',
  'leads.emptyText':
    'A lead appears when someone clicks a campaign’s click URL, or when your bot creates one through the API (POST /api/v1/leads). Create a campaign and put its link in your ads.',
  'leads.noMatch': 'No lead matches “{q}”.',
  'leads.create': 'New lead',
  'leads.createHint': 'Creates a lead with a fresh clickid, e.g. to test your postbacks.',
  'leads.card': 'Tracker Data',
  'leads.params': 'Parameters',
  'leads.noParams': 'No click parameters: an organic lead or a click without a query.',
  'leads.fields': 'Custom fields',
  'leads.noFields': 'No custom fields. Postbacks write them with fields.<key>=<value>.',
  'leads.timeline': 'Events',
  'leads.noEvents': 'No events yet. They appear when a postback arrives or you send one below.',
  'leads.totals': 'Totals',
  'leads.totalDeposits': 'Deposits',
  'leads.totalWithdrawals': 'Withdrawals',
  'leads.balance': 'Balance',
  'leads.send': 'Send event',
  'leads.sendHint': 'Counted by the same rules as a postback from the network.',
  'leads.event': 'Event',
  'leads.customName': 'Custom event name',
  'leads.amount': 'Amount',
  'leads.currency': 'Currency',
  'leads.tid': 'Transaction id',
  'leads.sent.recorded': 'Recorded.',
  'leads.sent.duplicate': 'Duplicate: this event was already counted, nothing changed.',
  'leads.sent.unmatched': 'No such lead.',
  'leads.createdAt': 'Created',
  'leads.username': 'Username',
  'leads.tid.short': 'tid',

  'logs.title': 'Postback logs',
  'logs.live': 'Live',
  'logs.paused': 'Updates paused on older pages',
  'logs.postback': 'Postback',
  'logs.status': 'Status',
  'logs.searchLabel': 'Search',
  'logs.searchPlaceholder': 'clickid or any text in the URL',
  'logs.time': 'Time',
  'logs.event': 'Event',
  'logs.clickid': 'Clickid',
  'logs.amount': 'Amount',
  'logs.http': 'HTTP',
  'logs.details': 'Details of the request at {time}',
  'logs.request': 'Request',
  'logs.answer': 'Our answer',
  'logs.method': 'Method',
  'logs.url': 'URL',
  'logs.ip': 'IP',
  'logs.ua': 'User agent',
  'logs.body': 'Body',
  'logs.httpStatus': 'HTTP status',
  'logs.error': 'Error',
  'logs.conversionId': 'Conversion id',
  'logs.emptyTitle': 'No postbacks received yet',
  'logs.emptyText':
    'Every request to your postback links shows up here within two seconds — recorded, duplicate, unmatched or rejected. Use the network’s “test postback” button to check the setup.',
  'logs.noMatch': 'No requests match these filters.',
  'logs.deleted': 'deleted postback',
  'logs.unknown': 'unknown token',
  'status.recorded': 'recorded',
  'status.duplicate': 'duplicate',
  'status.unmatched': 'unmatched',
  'status.rejected': 'rejected',

  'stats.title': 'Analytics',
  'stats.from': 'From',
  'stats.to': 'To',
  'stats.tz': 'Time zone',
  'stats.campaign': 'Campaign',
  'stats.groupBy': 'Group by',
  'stats.param': 'Click parameter',
  'stats.paramPlaceholder': 'e.g. utm_campaign',
  'stats.group.day': 'Day',
  'stats.group.campaign': 'Campaign',
  'stats.group.postback': 'Postback',
  'stats.group.network': 'Network',
  'stats.group.buyer': 'Buyer',
  'stats.group.param': 'Click parameter',
  'stats.clicks': 'Clicks',
  'stats.leads': 'Leads',
  'stats.registrations': 'Registrations',
  'stats.cr': 'CR',
  'stats.ftd': 'FTD',
  'stats.ftdAmount': 'FTD amount',
  'stats.rd': 'Deposits (RD)',
  'stats.rdAmount': 'RD amount',
  'stats.totalAmount': 'Total deposits',
  'stats.withdrawals': 'Withdrawals',
  'stats.export': 'Export CSV',
  'stats.emptyTitle': 'Nothing in this period',
  'stats.emptyText':
    'Clicks, registrations and deposits appear here once your campaign links get traffic and your postbacks fire. Widen the dates or check Postback logs.',
  'stats.none': '(none)',
  'stats.currencyNote': 'Amounts in {currency}.',
  'stats.otherCurrencies':
    'Amounts in {currencies} are counted but not summed here: choose the currency above.',
  'stats.currency': 'Currency',
  'stats.currencyMostUsed': 'Most used',
  'stats.range': 'Quick range',
  'stats.last7': 'Last 7 days',
  'stats.last30': 'Last 30 days',
  'stats.today': 'Today',

  'dash.title': 'Dashboard',
  'dash.clicks': 'Clicks',
  'dash.registrations': 'Registrations',
  'dash.ftd': 'First deposits',
  'dash.amounts': 'Deposit amounts',
  'dash.ftdAmount': 'First deposits',
  'dash.rdAmount': 'Repeat deposits',
  'dash.chartLoading': 'Drawing the chart…',
};

export type MessageKey = keyof typeof en;

const ru: Record<MessageKey, string> = {
  'app.name': 'Clickback',
  'common.loading': 'Загрузка…',
  'common.retry': 'Повторить',
  'common.save': 'Сохранить',
  'common.saving': 'Сохранение…',
  'common.saved': 'Сохранено',
  'common.cancel': 'Отмена',
  'common.create': 'Создать',
  'common.delete': 'Удалить',
  'common.edit': 'Изменить',
  'common.copy': 'Копировать',
  'common.copied': 'Скопировано',
  'common.copyFailed': 'Не удалось скопировать — выделите текст и нажмите Ctrl+C',
  'common.close': 'Закрыть',
  'common.search': 'Поиск',
  'common.prev': 'Назад',
  'common.next': 'Далее',
  'common.pageN': 'Страница {n}',
  'common.all': 'Все',
  'common.optional': 'необязательно',
  'common.yes': 'Да',
  'common.no': 'Нет',
  'common.back': 'Назад',
  'common.created': 'Создан',
  'common.name': 'Название',
  'common.total': 'Итого',
  'common.notFound': 'Не найдено',
  'common.pageNotFound': 'По этому адресу ничего нет.',
  'common.goHome': 'На главную',
  'common.error': 'Что-то пошло не так',
  'common.confirmDelete': 'Удалить «{name}»? Это нельзя отменить.',

  'err.network_error': 'Сервер недоступен. Проверьте соединение и попробуйте ещё раз.',
  'err.invalid_credentials': 'Неверный email или пароль.',
  'err.email_taken': 'Аккаунт с таким email уже есть. Войдите.',
  'err.weak_password': 'Слишком простой пароль: нужно не меньше 8 символов.',
  'err.invalid_email': 'Это не похоже на email.',
  'err.signup_closed': 'Регистрация на этой установке закрыта. Попросите аккаунт у владельца.',
  'err.unauthorized': 'Сессия закончилась. Войдите снова.',
  'err.not_found': 'Этого больше нет или оно принадлежит другому пространству.',
  'err.private_address':
    'Этот URL ведёт на частный или локальный адрес: вебхуки ходят только на публичные (ALLOW_PRIVATE_WEBHOOKS=true на сервере снимает запрет).',
  'err.in_flight':
    'Это событие отправляется прямо сейчас. Если попытка не удастся, повторите, когда она появится здесь.',
  'err.conflict': 'Кто-то другой менял это в тот же момент. Обновите страницу и сохраните снова.',
  'err.invalid_currency':
    'Такой валюты мы не знаем: укажите код ISO 4217, например USD, EUR или RUB, либо USDT, USDC, BTC, ETH, TRX, TON.',

  'auth.loginTitle': 'Вход',
  'auth.signupTitle': 'Новое рабочее пространство',
  'auth.tagline': 'Трекинг конверсий для воронок в Telegram-ботах',
  'auth.email': 'Email',
  'auth.password': 'Пароль',
  'auth.passwordHint': 'Не меньше 8 символов.',
  'auth.workspaceName': 'Название пространства',
  'auth.workspaceHint': 'Команда или проект, например «Aviator team».',
  'auth.login': 'Войти',
  'auth.signup': 'Создать аккаунт',
  'auth.noAccount': 'Ещё нет аккаунта?',
  'auth.toSignup': 'Создать',
  'auth.haveAccount': 'Уже есть аккаунт?',
  'auth.toLogin': 'Войти',
  'auth.logout': 'Выйти',

  'nav.main': 'Главное меню',
  'nav.home': 'Главная',
  'nav.tracker': 'Трекер',
  'nav.language': 'Язык',
  'nav.sections': 'Разделы трекера',
  'nav.campaigns': 'Кампании',
  'nav.postbacks': 'Постбэки',
  'nav.leads': 'Лиды',
  'nav.logs': 'Логи',
  'nav.analytics': 'Аналитика',
  'nav.dashboard': 'Дашборд',
  'nav.campaignSections': 'Разделы кампании',
  'nav.campaignSettings': 'Настройки',
  'nav.sources': 'Источники',
  'nav.autoActions': 'Автодействия',
  'nav.logKinds': 'Виды логов',
  'nav.postbackLogs': 'Логи постбэков',
  'nav.sourceLogs': 'Логи источников',

  'apiKeys.title': 'API-ключи для бота и скриптов',
  'apiKeys.lead': 'Бот передаёт лидов и чаты в Clickback с ключом: Authorization: Bearer <ключ>.',
  'apiKeys.docs': 'Справочник API',
  'apiKeys.name': 'Название',
  'apiKeys.namePlaceholder': 'например, бот Aviator',
  'apiKeys.create': 'Создать ключ',
  'apiKeys.createdKey': 'Ключ для {name}',
  'apiKeys.shownOnce': 'Скопируйте его сейчас: он показывается один раз.',
  'apiKeys.key': 'Ключ',
  'apiKeys.created': 'Создан',
  'apiKeys.lastUsed': 'Последнее использование',
  'apiKeys.never': 'ни разу',
  'apiKeys.revoke': 'Отозвать',
  'apiKeys.confirmRevoke': 'Отозвать «{name}»? Всё, что им пользуется, сразу перестанет работать.',
  'home.title': 'Добро пожаловать, {name}',
  'home.lead': 'Нажмите значок Facebook в меню, чтобы открыть трекер. Настройка — три шага:',
  'home.step1':
    'Создайте кампанию и поставьте её ссылку в объявления. Каждый клик получает clickid и уходит в ваш бот.',
  'home.step2':
    'Создайте постбэк для партнёрской сети и вставьте ссылки «Регистрация», «Первый депозит» и «Депозит» в её настройки.',
  'home.step3':
    'Выдавайте лидам ссылку на регистрацию с {{tracker.clickid}} и следите за логами постбэков и аналитикой.',
  'home.open': 'Начать',
  'home.done': 'готово',
  'home.failingTitle':
    'События не доходят до ваших источников ({n}): все последние попытки не прошли, и рекламная площадка или трекер не узнаёт об этих конверсиях.',
  'home.failingCampaign': 'в кампании {name}',
  'home.failingSince': 'Подряд не прошло попыток: {n}; с {since} ничего не доставлено.',
  'home.failingNever': 'Подряд не прошло попыток: {n}; ещё ничего не доставлено.',
  'home.failingLog': 'Открыть лог',
  'home.failingSources': 'Источники кампании',

  'campaigns.title': 'Кампании',
  'campaigns.new': 'Новая кампания',
  'campaigns.failingSources':
    'События не доходят до источников этой кампании ({n}): все последние попытки не прошли.',
  'campaigns.failingSourcesOpen': 'Открыть источники',
  'campaigns.editTitle': 'Кампания',
  'campaigns.description': 'Описание',
  'campaigns.buyer': 'Баер',
  'campaigns.buyerHint':
    'Медиабаер, который ведёт кампанию; аналитику можно группировать по баерам.',
  'campaigns.destination': 'Куда вести',
  'campaigns.destinationHint':
    'Куда уходит клик. Поставьте {{tracker.clickid}} туда, где нужен clickid, например https://t.me/my_bot?start={{tracker.clickid}}',
  'campaigns.insertMacro': 'Вставить {{tracker.clickid}}',
  'campaigns.destinationFormat': 'Ссылка, начинающаяся с https://, http:// или tg://',
  'campaigns.clickUrl': 'Ссылка для кликов',
  'campaigns.clickUrlHint':
    'Поставьте эту ссылку в объявления. Добавьте макросы источника, например ?utm_campaign={{campaign.name}}&utm_content={{ad.name}} (fbclid Facebook добавит сам).',
  'campaigns.emptyTitle': 'Кампаний пока нет',
  'campaigns.emptyText':
    'Кампания даёт ссылку для объявлений. Каждый клик получает clickid и уходит дальше — в бот, на прелендинг или оффер.',
  'campaigns.created': 'Кампания создана. Поставьте ссылку для кликов в объявления.',
  'campaigns.leads': 'Лиды этой кампании',

  'postbacks.title': 'Постбэки',
  'postbacks.create': 'Создать постбэк',
  'postbacks.network': 'Партнёрская сеть',
  'postbacks.campaign': 'Кампания',
  'postbacks.allCampaigns': 'Все кампании',
  'postbacks.campaignHint':
    'Оставьте пустым, чтобы постбэк работал для всех кампаний, — обычно нужно именно так.',
  'postbacks.namePlaceholder': 'например, 1Win',
  'postbacks.clickidParam': 'Параметр clickid',
  'postbacks.clickidParamHint':
    'Параметр сети, в котором едет наш clickid (sub1, subid, click_id…).',
  'postbacks.macroClickid': 'Макрос clickid',
  'postbacks.macroAmount': 'Макрос суммы',
  'postbacks.macroCurrency': 'Макрос валюты',
  'postbacks.macroTid': 'Макрос ID транзакции',
  'postbacks.macrosHint':
    'Плейсхолдеры самой сети, как в её документации: Keitaro {subid} {payout} {tid}, Binom {cnv_id} {payout}, Voluum {cid} {payout} {txid}.',
  'postbacks.defaultCurrency': 'Валюта по умолчанию',
  'postbacks.defaultCurrencyHint': 'Если постбэк пришёл без валюты.',
  'postbacks.currencyFormat': 'Код валюты, например USD, EUR, RUB или USDT.',
  'postbacks.binomoParamHint':
    'Параметр, в котором Binpartner передаёт наш clickid: click_id, если его не переименовали в кабинете Binpartner.',
  'postbacks.pocketOptionParamHint':
    'Pocket Option возвращает наш clickid в click_id; ссылки запрашивают его макросом {click_id}.',
  'postbacks.editTitle': 'Настройки постбэка',
  'postbacks.editTokenKept':
    'Токен остаётся прежним, поэтому ссылки, уже вставленные в {network}, продолжают приходить в этот постбэк. Изменения действуют со следующего постбэка.',
  'postbacks.editLinksChange':
    'Эти изменения меняют ссылки (параметр clickid, макросы или сеть): после сохранения вставьте в сеть новые ссылки вместо старых.',
  'postbacks.savedSameLinks': 'Сохранено. Токен и ссылки прежние: в сети ничего менять не нужно.',
  'postbacks.savedNewLinks':
    'Сохранено. Токен прежний, но ссылки изменились: вставьте новые ссылки ниже в {network} вместо старых.',
  'postbacks.savedNewParam':
    'Ссылка на регистрацию у бота теперь должна передавать clickid в {param}: пересоберите её в конструкторе.',
  'postbacks.customSection': 'Своя сеть',
  'postbacks.emptyTitle': 'Постбэков пока нет',
  'postbacks.emptyText':
    'Постбэк даёт три ссылки — «Регистрация», «Первый депозит» и «Депозит». Вставьте каждую в соответствующее поле настроек постбэков партнёрской сети: сеть будет вызывать их, когда лид регистрируется или вносит депозит, а события появятся в логах, лидах и аналитике.',
  'postbacks.links': 'Ссылки постбэка',
  'postbacks.linksHint':
    'Вставьте каждую ссылку в соответствующее поле настроек постбэков сети и включите её.',
  'postbacks.created': 'Постбэк создан. Скопируйте ссылки ниже в {network}.',
  'postbacks.paused': 'На паузе',
  'postbacks.confirmPause':
    'Приостановить «{name}»? Пока он на паузе, его постбэки получают ответ 403 и не засчитываются, а сети не присылают их повторно.',
  'postbacks.oneWinSubHint':
    'В каком из свободных полей sub у 1Win едет наш clickid: в том, что заполняет ваша ссылка регистрации (в пресете Chatterfy это sub4).',
  'postbacks.active': 'Активен',
  'postbacks.pause': 'Приостановить',
  'postbacks.resume': 'Включить',
  'postbacks.builder': 'Конструктор ссылки на регистрацию',
  'postbacks.builderHint':
    'Вставьте ссылку сети на регистрацию. Мы добавим параметр clickid ({param}) с {{tracker.clickid}} — отдайте результат боту.',
  'postbacks.baseLink': 'Ссылка сети',
  'postbacks.build': 'Собрать ссылку',
  'postbacks.finalLink': 'Ссылка на регистрацию',
  'postbacks.network.1win.tip':
    '1Win: кабинет партнёра → Постбэки. Clickid едет в {param}; ссылка на регистрацию должна его передавать.',
  'postbacks.network.binomo.tip':
    'Binomo (Binpartner): вставляйте ссылки как есть, без «?». Binpartner сам добавит {param} и свои параметры.',
  'postbacks.network.pocket_option.tip':
    'Pocket Option: кабинет партнёра → Постбэки. ID трейдера сохраняется у лида в пользовательском поле.',
  'postbacks.network.custom.tip':
    'Своя сеть: ссылки построены по выбранному параметру и макросам. Сверьте их с документацией сети.',
  'postbacks.viewLogs': 'Открыть его логи',
  'postbacks.deleteDone': 'Постбэк удалён. Его ссылки теперь отвечают 404.',

  'network.custom': 'Своя сеть',
  'link.registration': 'Регистрация',
  'link.firstDeposit': 'Первый депозит',
  'link.deposit': 'Депозит',
  'link.emailConfirmation': 'Подтверждение email',
  'link.withdrawal': 'Вывод',
  'link.commission': 'Комиссия',

  'event.registration': 'Регистрация',
  'event.first_deposit': 'Первый депозит',
  'event.deposit': 'Депозит',
  'event.withdrawal': 'Вывод',
  'event.email_confirmation': 'Подтверждение email',
  'event.commission': 'Комиссия',
  'event.custom': 'Своё событие',

  'leads.title': 'Лиды',
  'leads.searchLabel': 'Поиск лидов',
  'leads.searchPlaceholder': 'начало clickid, внешний ID, ник',
  'leads.searchHint':
    'Clickid по первым символам (заглавные и строчные различаются) или целиком, внешний ID точно или часть username.',
  'leads.clickid': 'Clickid',
  'leads.campaign': 'Кампания',
  'leads.externalId': 'Внешний ID',
  'leads.registered': 'Регистрация',
  'leads.ftd': 'ФД',
  'leads.deposits': 'Депозиты',
  'leads.lastEvent': 'Последнее событие',
  'leads.organic': 'Органика',
  'leads.emptyTitle': 'Лидов пока нет',
  'leads.emptyText':
    'Лид появляется, когда кто-то переходит по ссылке кампании или когда бот создаёт его через API (POST /api/v1/leads). Создайте кампанию и поставьте её ссылку в объявления.',
  'leads.noMatch': 'Нет лидов по запросу «{q}».',
  'leads.create': 'Новый лид',
  'leads.createHint': 'Создаёт лида с новым clickid, например чтобы проверить постбэки.',
  'leads.card': 'Данные трекера',
  'leads.params': 'Параметры',
  'leads.noParams': 'Параметров клика нет: органический лид или клик без параметров.',
  'leads.fields': 'Пользовательские поля',
  'leads.noFields': 'Полей нет. Постбэки записывают их через fields.<ключ>=<значение>.',
  'leads.timeline': 'События',
  'leads.noEvents':
    'Событий пока нет. Они появятся, когда придёт постбэк или вы отправите событие ниже.',
  'leads.totals': 'Итоги',
  'leads.totalDeposits': 'Депозиты',
  'leads.totalWithdrawals': 'Выводы',
  'leads.balance': 'Баланс',
  'leads.send': 'Отправить событие',
  'leads.sendHint': 'Считается по тем же правилам, что и постбэк от сети.',
  'leads.event': 'Событие',
  'leads.customName': 'Название события',
  'leads.amount': 'Сумма',
  'leads.currency': 'Валюта',
  'leads.tid': 'ID транзакции',
  'leads.sent.recorded': 'Записано.',
  'leads.sent.duplicate': 'Дубль: это событие уже учтено, ничего не изменилось.',
  'leads.sent.unmatched': 'Такого лида нет.',
  'leads.createdAt': 'Создан',
  'leads.username': 'Username',
  'leads.tid.short': 'tid',

  'logs.title': 'Логи постбэков',
  'logs.live': 'В реальном времени',
  'logs.paused': 'На старых страницах обновление остановлено',
  'logs.postback': 'Постбэк',
  'logs.status': 'Статус',
  'logs.searchLabel': 'Поиск',
  'logs.searchPlaceholder': 'clickid или любой текст из URL',
  'logs.time': 'Время',
  'logs.event': 'Событие',
  'logs.clickid': 'Clickid',
  'logs.amount': 'Сумма',
  'logs.http': 'HTTP',
  'logs.details': 'Подробности запроса в {time}',
  'logs.request': 'Запрос',
  'logs.answer': 'Наш ответ',
  'logs.method': 'Метод',
  'logs.url': 'URL',
  'logs.ip': 'IP',
  'logs.ua': 'User agent',
  'logs.body': 'Тело',
  'logs.httpStatus': 'HTTP-статус',
  'logs.error': 'Ошибка',
  'logs.conversionId': 'ID конверсии',
  'logs.emptyTitle': 'Постбэков ещё не было',
  'logs.emptyText':
    'Каждый запрос на ваши ссылки постбэков появляется здесь в течение двух секунд — записанный, дубль, без лида или отклонённый. Проверьте настройку кнопкой «тестовый постбэк» в сети.',
  'logs.noMatch': 'Нет запросов под эти фильтры.',
  'logs.deleted': 'удалённый постбэк',
  'logs.unknown': 'неизвестный токен',
  'status.recorded': 'записан',
  'status.duplicate': 'дубль',
  'status.unmatched': 'без лида',
  'status.rejected': 'отклонён',

  'stats.title': 'Аналитика',
  'stats.from': 'С',
  'stats.to': 'По',
  'stats.tz': 'Часовой пояс',
  'stats.campaign': 'Кампания',
  'stats.groupBy': 'Группировка',
  'stats.param': 'Параметр клика',
  'stats.paramPlaceholder': 'например, utm_campaign',
  'stats.group.day': 'День',
  'stats.group.campaign': 'Кампания',
  'stats.group.postback': 'Постбэк',
  'stats.group.network': 'Сеть',
  'stats.group.buyer': 'Баер',
  'stats.group.param': 'Параметр клика',
  'stats.clicks': 'Клики',
  'stats.leads': 'Лиды',
  'stats.registrations': 'Регистрации',
  'stats.cr': 'CR',
  'stats.ftd': 'ФД',
  'stats.ftdAmount': 'Сумма ФД',
  'stats.rd': 'Депозиты (РД)',
  'stats.rdAmount': 'Сумма РД',
  'stats.totalAmount': 'Все депозиты',
  'stats.withdrawals': 'Выводы',
  'stats.export': 'Экспорт CSV',
  'stats.emptyTitle': 'За этот период ничего нет',
  'stats.emptyText':
    'Клики, регистрации и депозиты появятся, когда на ссылки кампаний пойдёт трафик и сработают постбэки. Расширьте даты или загляните в логи постбэков.',
  'stats.none': '(пусто)',
  'stats.currencyNote': 'Суммы в {currency}.',
  'stats.otherCurrencies':
    'События в {currencies} учтены в количествах, но их суммы здесь не сложены: выберите валюту выше.',
  'stats.currency': 'Валюта',
  'stats.currencyMostUsed': 'Самая частая',
  'stats.range': 'Быстрый выбор',
  'stats.last7': '7 дней',
  'stats.last30': '30 дней',
  'stats.today': 'Сегодня',

  'dash.title': 'Дашборд',
  'dash.clicks': 'Клики',
  'dash.registrations': 'Регистрации',
  'dash.ftd': 'Первые депозиты',
  'dash.amounts': 'Суммы депозитов',
  'dash.ftdAmount': 'Первые депозиты',
  'dash.rdAmount': 'Повторные депозиты',
  'dash.chartLoading': 'Рисуем график…',
};

export type Lang = 'en' | 'ru';
export const LANGS: { code: Lang; label: string }[] = [
  { code: 'en', label: 'English' },
  { code: 'ru', label: 'Русский' },
];
const DICTS: Record<Lang, Record<MessageKey, string>> = { en, ru };
const STORAGE_KEY = 'clickback.lang';

function initialLang(): Lang {
  try {
    const saved = localStorage.getItem(STORAGE_KEY);
    if (saved === 'en' || saved === 'ru') return saved;
  } catch {
    // Storage blocked: fall back to the browser's language.
  }
  return navigator.language.toLowerCase().startsWith('ru') ? 'ru' : 'en';
}

export interface I18n {
  lang: Lang;
  setLang: (lang: Lang) => void;
  t: (key: MessageKey, vars?: Record<string, string | number>) => string;
  /** A key that may not exist (e.g. `event.<custom>`), with a fallback. */
  tMaybe: (key: string, fallback: string) => string;
  num: (value: number) => string;
  percent: (value: number) => string;
  money: (amount: string | null | undefined, currency: string | null | undefined) => string;
  /** An amount as a network sent it, every decimal kept, with its currency's code: 150.00 USD. */
  amountWithCode: (amount: string, currency: string) => string;
  dateTime: (iso: string) => string;
  time: (iso: string) => string;
  date: (isoDate: string) => string;
}

const I18nContext = createContext<I18n | null>(null);

export function I18nProvider({ children }: { children: ReactNode }) {
  const [lang, setLangState] = useState<Lang>(initialLang);
  const setLang = useCallback((next: Lang) => {
    setLangState(next);
    try {
      localStorage.setItem(STORAGE_KEY, next);
    } catch {
      // Not remembered, still switched.
    }
  }, []);
  const value = useMemo(() => makeI18n(lang, setLang), [lang, setLang]);
  useEffect(() => {
    document.documentElement.lang = lang;
  }, [lang]);
  return <I18nContext.Provider value={value}>{children}</I18nContext.Provider>;
}

export function useI18n(): I18n {
  const value = useContext(I18nContext);
  if (!value) throw new Error('useI18n outside <I18nProvider>');
  return value;
}

function makeI18n(lang: Lang, setLang: (lang: Lang) => void): I18n {
  const dict = DICTS[lang];
  const locale = lang === 'ru' ? 'ru-RU' : 'en-US';
  const numberFormat = new Intl.NumberFormat(locale);
  const percentFormat = new Intl.NumberFormat(locale, {
    style: 'percent',
    maximumFractionDigits: 1,
  });
  const dateTimeFormat = new Intl.DateTimeFormat(locale, {
    dateStyle: 'medium',
    timeStyle: 'short',
  });
  const timeFormat = new Intl.DateTimeFormat(locale, {
    month: 'short',
    day: 'numeric',
    hour: '2-digit',
    minute: '2-digit',
    second: '2-digit',
  });
  const dateFormat = new Intl.DateTimeFormat(locale, {
    dateStyle: 'medium',
    timeZone: 'UTC',
  });
  const amounts = moneyFormatter(locale);
  const t = (key: MessageKey, vars?: Record<string, string | number>) =>
    fill(dict[key] ?? en[key] ?? key, vars);
  return {
    lang,
    setLang,
    t,
    tMaybe: (key, fallback) => (key in dict ? dict[key as MessageKey] : fallback),
    num: (value) => numberFormat.format(value),
    percent: (value) => percentFormat.format(value),
    money: amounts.money,
    amountWithCode: amounts.amountWithCode,
    dateTime: (iso) => dateTimeFormat.format(new Date(iso)),
    time: (iso) => timeFormat.format(new Date(iso)),
    date: (isoDate) => {
      const day = new Date(`${isoDate}T00:00:00Z`);
      // Not a date (a row of another grouping): shown as it is rather than thrown.
      return Number.isNaN(day.getTime()) ? isoDate : dateFormat.format(day);
    },
  };
}

function fill(text: string, vars?: Record<string, string | number>): string {
  let out = text;
  if (vars) {
    for (const [name, value] of Object.entries(vars))
      out = out.replaceAll(`{${name}}`, String(value));
  }
  return out;
}

/**
 * A lazily loaded screen's own messages, English and Russian (Russian must cover
 * every key): they travel in that screen's chunk instead of the first load.
 */
export function useMessages<K extends string>(
  dicts: Record<Lang, Record<K, string>>,
): (key: K, vars?: Record<string, string | number>) => string {
  const { lang } = useI18n();
  return useCallback(
    (key: K, vars?: Record<string, string | number>) =>
      fill(dicts[lang][key] ?? dicts.en[key] ?? key, vars),
    [dicts, lang],
  );
}
