// Phone verification, in the browser: plain JavaScript, no framework, no build.
// Calls the two functions of the API (Parse Cloud Code convention):
//   POST {API}/functions/sendVerificationCode {phoneNumber, channel, locale}
//   POST {API}/functions/verifyPhoneNumber   {phoneNumber, phoneVerificationCode}
// A success is 200 {"result": {...}}; a failure is {code, error, reason, ...}
// with a `Retry-After` header on the limits (the API's CORS exposes it).
// The API base URL comes from ?api=..., by default scripts/dev.sh's local API.
'use strict';

const API = apiBase();
const $ = (id) => document.getElementById(id);
const main = document.querySelector('main');
const sendForm = $('send-form');
const verifyForm = $('verify-form');
const phoneInput = $('phone');
const codeInput = $('code');

/** What the app should tell the user to do, by `reason` (docs/api.md, "Errors"). */
const ADVICE = {
  incorrect_code: 'Check the code and type it again.',
  max_attempts_reached: 'Too many wrong codes: ask for a new code.',
  no_pending_verification: 'This code has expired or was withdrawn: ask for a new code.',
  code_already_used: 'This code was already used: ask for a new code.',
  code_replaced: 'A newer code was sent: type the newest one.',
  invalid_code_format: 'Type the code exactly as received, digits only.',
  phone_number_missing_country_code: 'Start the number with + and its country code, e.g. +1 for the US.',
  invalid_phone_number: 'Check the number.',
  number_cannot_receive_sms: 'Use a mobile number, or choose "Voice call".',
  recipient_cannot_receive: 'Use a mobile number, or choose "Voice call".',
  recipient_invalid: 'Check the number.',
  recipient_unreachable: 'Check the number, or choose another way to get the code.',
  channel_disabled: 'Choose another way to get the code.',
  country_not_allowed: 'Numbers of this country cannot be verified here.',
  premium_rate_number: 'Use your mobile number.',
  delivery_unavailable: 'Nothing was sent. Try again in a moment.',
  storage_unavailable: 'Nothing was sent. Try again in a moment.',
  network_error: 'Check your connection and try again.',
};

/** The button that asks for a code's fallback channel (docs/api.md, "Channel fallback"). */
const FALLBACK_LABEL = { call: 'Call me instead', sms: 'Text me instead' };

let pending = null; // the last `pending` result: phoneNumber, resendAvailableAt...
let resendAt = 0; // ms timestamp when "Resend" becomes possible
let fallbackAt = 0; // ms timestamp when the fallback channel may be asked for
let retryAt = 0; // ms timestamp from the last Retry-After
let webOtp = null; // AbortController of the pending WebOTP request
let busy = false;

$('api-base').textContent = API;
sendForm.addEventListener('submit', (e) => { e.preventDefault(); sendCode(); });
verifyForm.addEventListener('submit', (e) => { e.preventDefault(); verifyCode(); });
$('resend').addEventListener('click', () => sendCode(pending.phoneNumber));
$('fallback').addEventListener('click', () => sendCode(pending.phoneNumber, pending.fallback.channels[0]));
$('change').addEventListener('click', () => showStep('send'));
$('again').addEventListener('click', () => { phoneInput.value = ''; showStep('send'); });
setInterval(tick, 250);

function apiBase() {
  const param = new URLSearchParams(location.search).get('api');
  if (param && /^https?:\/\/[^\s]+$/.test(param)) return param.replace(/\/+$/, '');
  return 'http://127.0.0.1:3000';
}

class ApiError extends Error {
  constructor(status, body, retryAfter) {
    super(body.error || `HTTP ${status}`);
    this.status = status;
    this.body = body;
    this.reason = body.reason;
    this.retryAfter = retryAfter;
  }
}

/** POST {API}/functions/NAME; the `result`, or throws an ApiError. */
async function callFunction(name, params) {
  let response;
  try {
    response = await fetch(`${API}/functions/${name}`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify(params),
    });
  } catch {
    // No answer at all: offline, DNS, or a CORS refusal (the browser hides which).
    throw new ApiError(0, {
      error: `Cannot reach the verification service at ${API}.`,
      reason: 'network_error',
    });
  }
  const body = await response.json().catch(() => ({}));
  if (response.ok && body.result) return body.result;
  throw new ApiError(response.status, body, retryAfterSeconds(response, body));
}

/** Seconds from the Retry-After header (seconds or an HTTP date), else `retryAfter`. */
function retryAfterSeconds(response, body) {
  const header = response.headers.get('Retry-After');
  if (header && /^\d+$/.test(header.trim())) return Number(header);
  if (header && !Number.isNaN(Date.parse(header))) {
    return Math.max(0, Math.ceil((Date.parse(header) - Date.now()) / 1000));
  }
  return Number.isInteger(body.retryAfter) ? body.retryAfter : null;
}

async function sendCode(number = phoneInput.value.trim(), channel = $('channel').value) {
  if (busy) return;
  if (!number) {
    phoneInput.focus();
    return setStatus('Type your phone number first.');
  }
  const params = { phoneNumber: number, channel, locale: navigator.language };
  // Lets national numbers like (415) 555-0123 through, for en-US browsers and alike.
  const region = browserRegion();
  if (region) params.defaultRegion = region;
  await run('sending', `Sending a code to ${number}…`, async () => {
    pending = await callFunction('sendVerificationCode', params);
    showStep('verify');
  });
}

/** "US" for en-US (or zh-Hant-US), else undefined: "419" (es-419) is no country. */
function browserRegion() {
  try {
    const { region } = new Intl.Locale(navigator.language);
    return /^[A-Z]{2}$/.test(region || '') ? region : undefined;
  } catch {
    return undefined;
  }
}

async function verifyCode() {
  if (busy || !pending) return;
  const code = codeInput.value.replace(/\s/g, '');
  if (!code) {
    codeInput.focus();
    return setStatus('Type the code you received.');
  }
  webOtp?.abort();
  await run('verifying', 'Checking the code…', async () => {
    const result = await callFunction('verifyPhoneNumber', {
      phoneNumber: pending.phoneNumber,
      phoneVerificationCode: code,
    });
    showVerified(result);
  });
}

/** Runs one API call with the page busy, showing its error if it fails. */
async function run(state, status, action) {
  busy = true;
  hideError();
  main.dataset.state = state;
  setStatus(status);
  for (const b of document.querySelectorAll('button[type=submit]')) b.disabled = true;
  try {
    await action();
  } catch (error) {
    if (!(error instanceof ApiError)) throw error;
    setStatus('');
    showError(error);
  } finally {
    busy = false;
    for (const b of document.querySelectorAll('button[type=submit]')) b.disabled = false;
  }
}

function showStep(step) {
  webOtp?.abort();
  hideError();
  sendForm.hidden = step !== 'send';
  verifyForm.hidden = step !== 'verify';
  $('verified').hidden = step !== 'verified';
  main.dataset.state = step === 'verify' ? 'code-sent' : step;
  if (step === 'send') {
    setStatus('');
    phoneInput.focus();
  } else if (step === 'verify') {
    const how = { sms: 'by text message', call: 'by a voice call', whatsapp: 'on WhatsApp' }[pending.channel];
    const expires = new Date(pending.expiresAt).toLocaleTimeString([], { hour: 'numeric', minute: '2-digit' });
    $('sent-to').textContent = `We sent a code ${how} to ${pending.phoneNumber}. ` +
      `It is valid until ${expires}, for ${plural(pending.attemptsRemaining, 'attempt')}.`;
    setStatus(pending.delivery === 'unconfirmed' ? 'The code is probably on its way (the provider answered late).' : '');
    resendAt = Date.parse(pending.resendAvailableAt);
    // A code that does not come may be followed sooner by its fallback channel.
    const next = pending.fallback?.channels[0];
    $('fallback').hidden = !FALLBACK_LABEL[next];
    fallbackAt = FALLBACK_LABEL[next] ? Date.parse(pending.fallback.availableAt) : 0;
    codeInput.value = '';
    codeInput.focus();
    startWebOtp();
    tick();
  }
}

/** WebOTP: Chrome on Android offers the code of an SMS ending in
 *  "@your.domain #123456" (AUTOFILL_DOMAIN) and we submit it. Elsewhere the
 *  input's autocomplete="one-time-code" lets iOS/macOS Safari suggest it. */
function startWebOtp() {
  if (!('OTPCredential' in window)) return;
  $('webotp-hint').hidden = false;
  webOtp = new AbortController();
  navigator.credentials.get({ otp: { transport: ['sms'] }, signal: webOtp.signal })
    .then((otp) => {
      if (!otp?.code || verifyForm.hidden) return;
      codeInput.value = otp.code;
      verifyForm.requestSubmit();
    })
    .catch((e) => {
      if (e.name !== 'AbortError') console.info(`WebOTP unavailable here (${e.name}): type the code.`);
    });
}

function showVerified(result) {
  showStep('verified');
  const at = new Date(result.verifiedAt).toLocaleString();
  $('verified-text').textContent = `${result.phoneNumber} is yours (verified ${at}).`;
  $('token-view').hidden = !result.token;
  if (result.token) {
    const [header, payload] = result.token.split('.').slice(0, 2).map(decodeBase64UrlJson);
    $('token-header').textContent = JSON.stringify(header, null, 2);
    $('token-payload').textContent = JSON.stringify(payload, null, 2);
    $('token-expiry').textContent = `Issued by ${payload.iss}; expires ${new Date(payload.exp * 1000).toLocaleTimeString()}.`;
  }
  setStatus('');
}

function decodeBase64UrlJson(part) {
  const base64 = part.replace(/-/g, '+').replace(/_/g, '/').padEnd(Math.ceil(part.length / 4) * 4, '=');
  const bytes = Uint8Array.from(atob(base64), (c) => c.charCodeAt(0));
  return JSON.parse(new TextDecoder().decode(bytes));
}

function showError(error) {
  const { body, reason, status, retryAfter } = error;
  main.dataset.state = 'error';
  $('error-message').textContent = error.message;
  $('error-advice').textContent = ADVICE[reason] || '';
  const details = [['reason', reason || '(none)']];
  if (status) details.push(['HTTP', `${status}${body.code ? ` (Parse error ${body.code})` : ''}`]);
  if (Number.isInteger(body.attemptsRemaining)) {
    details.push(['attempts', `${plural(body.attemptsRemaining, 'attempt')} left`]);
  }
  if (body.parameter) details.push(['parameter', body.parameter]);
  if (retryAfter != null) details.push(['Retry-After', `${retryAfter} s`]);
  $('error-details').replaceChildren(...details.flatMap(([term, value]) => {
    const dt = document.createElement('dt');
    const dd = document.createElement('dd');
    dt.textContent = term;
    dd.textContent = value;
    return [dt, dd];
  }));
  $('error-details').dataset.reason = reason || '';
  retryAt = retryAfter != null ? Date.now() + retryAfter * 1000 : 0;
  if (['max_attempts_reached', 'no_pending_verification', 'code_already_used'].includes(reason)) {
    resendAt = 0; // a new code is the way on
  }
  if (reason === 'incorrect_code' || reason === 'code_replaced') {
    codeInput.select();
  }
  $('error').hidden = false;
  tick();
}

function hideError() {
  $('error').hidden = true;
  retryAt = 0;
}

/** Every 250 ms: the resend countdown and the Retry-After wait. */
function tick() {
  const now = Date.now();
  const resendIn = Math.ceil((resendAt - now) / 1000);
  $('resend').disabled = busy || resendIn > 0;
  if (fallbackAt) {
    const fallbackIn = Math.ceil((fallbackAt - now) / 1000);
    const label = FALLBACK_LABEL[pending.fallback.channels[0]];
    $('fallback').disabled = busy || fallbackIn > 0;
    $('fallback').textContent = fallbackIn > 0 ? `${label} in ${formatWait(fallbackIn)}` : label;
  }
  $('resend-hint').textContent = resendIn > 0
    ? `You can ask for a new code in ${formatWait(resendIn)}.`
    : 'No code? Ask for a new one, or use another number or channel.';
  if (retryAt) {
    const waitIn = Math.ceil((retryAt - now) / 1000);
    $('error-advice').textContent = waitIn > 0
      ? `Please wait ${formatWait(waitIn)} before trying again.`
      : 'You can try again now.';
  }
}

function formatWait(seconds) {
  if (seconds < 120) return `${seconds} s`;
  if (seconds < 7200) return `${Math.ceil(seconds / 60)} min`;
  return `${Math.ceil(seconds / 3600)} h`;
}

function plural(n, word) {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

function setStatus(text) {
  $('status').textContent = text;
}

phoneInput.focus();
