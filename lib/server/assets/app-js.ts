/**
 * The login page's client script, served as /assets/app.js. Plain browser JavaScript, no build
 * step. Two rules keep it safe:
 * - Server data reaches the DOM only through `textContent` / `createElement`, never `innerHTML`
 *   (OWASP XSS Prevention Cheat Sheet, rule "use safe sinks"): a user agent string or cart item
 *   like `<img onerror=…>` stays text.
 * - Every request is a same-origin `fetch` with `credentials: 'same-origin'`; bodies are JSON,
 *   which a cross-site form cannot send without a CORS preflight (OWASP CSRF Prevention Cheat
 *   Sheet), and the server also checks Origin / Sec-Fetch-Site on unsafe methods.
 * Written as String.raw without template literals inside, so the text is the script byte for byte.
 */
export const APP_JS = String.raw`'use strict';
(function () {
  const $ = (id) => document.getElementById(id);
  const el = (tag, className, text) => {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  };
  // Show a message in a hidden-by-default element; '' hides it again.
  const say = (node, text) => { node.textContent = text; node.hidden = text === ''; };

  let noticeTimer = 0;
  function notice(text) {
    say($('notice'), text);
    clearTimeout(noticeTimer);
    noticeTimer = setTimeout(() => say($('notice'), ''), 6000);
  }

  /** fetch + JSON; resolves with { status, ok, data, headers }, rejects only on network errors. */
  async function api(method, path, body) {
    const init = { method, credentials: 'same-origin', headers: { Accept: 'application/json' } };
    if (body !== undefined) {
      init.headers['Content-Type'] = 'application/json';
      init.body = JSON.stringify(body);
    }
    const res = await fetch(path, init);
    let data = null;
    try { data = await res.json(); } catch { /* empty or non-JSON body */ }
    return { status: res.status, ok: res.ok, data, headers: res.headers };
  }

  const errorOf = (r) =>
    (r.data && typeof r.data.error === 'string' ? r.data.error : 'Request failed') + ' (HTTP ' + r.status + ')';

  // Retry-After is delay-seconds or an HTTP-date (RFC 9110 section 10.2.3).
  function retryAfterSeconds(header) {
    if (header === null) return null;
    if (/^\s*\d+\s*$/.test(header)) return Number(header);
    const when = Date.parse(header);
    return Number.isNaN(when) ? null : Math.max(0, Math.ceil((when - Date.now()) / 1000));
  }

  function loginError(r) {
    if (r.status === 401) return 'Invalid credentials';
    if (r.status === 429) {
      const s = retryAfterSeconds(r.headers.get('Retry-After'));
      return s === null ? 'Too many attempts, retry later' : 'Too many attempts, retry in ' + s + ' s';
    }
    if (r.status === 503) return 'Service unavailable';
    return errorOf(r);
  }

  // ---- dates and user agents, for humans --------------------------------------------------------

  const dateFormat = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short' });
  const relFormat = new Intl.RelativeTimeFormat(undefined, { numeric: 'auto' });
  const toDate = (v) => new Date(typeof v === 'number' && v < 1e11 ? v * 1000 : v); // s or ms

  function humanDate(v) {
    const d = toDate(v);
    return Number.isNaN(d.getTime()) ? 'unknown time' : dateFormat.format(d);
  }

  function humanAgo(v) {
    const d = toDate(v);
    if (Number.isNaN(d.getTime())) return 'unknown time';
    const s = Math.round((d.getTime() - Date.now()) / 1000);
    if (Math.abs(s) < 45) return 'just now';
    if (Math.abs(s) < 3600) return relFormat.format(Math.round(s / 60), 'minute');
    if (Math.abs(s) < 86400) return relFormat.format(Math.round(s / 3600), 'hour');
    return dateFormat.format(d);
  }

  // A short label such as "Chrome on Linux"; the full string stays visible below it.
  function describeAgent(ua) {
    if (!ua) return 'Unknown device';
    const browsers = [[/Edg\//, 'Edge'], [/OPR\//, 'Opera'], [/Firefox\//, 'Firefox'],
      [/HeadlessChrome\//, 'Headless Chrome'], [/Chrom(e|ium)\//, 'Chrome'], [/Safari\//, 'Safari'],
      [/^node$|undici/i, 'Node.js'], [/curl\//, 'curl']];
    const systems = [[/Android/, 'Android'], [/iPhone|iPad/, 'iOS'], [/Windows/, 'Windows'],
      [/Mac OS X|Macintosh/, 'macOS'], [/CrOS/, 'ChromeOS'], [/Linux/, 'Linux']];
    const browser = browsers.find(([re]) => re.test(ua));
    const system = systems.find(([re]) => re.test(ua));
    const name = browser ? browser[1] : 'Unknown browser';
    return system ? name + ' on ' + system[1] : name;
  }

  // ---- views --------------------------------------------------------------------------------------

  function showLogin() {
    document.body.dataset.state = 'login';
    $('login-view').hidden = false;
    $('dashboard').hidden = true;
    $('sessions-card').hidden = true;
    $('password-card').hidden = true;
    $('users-card').hidden = true;
    $('sessions').replaceChildren();
    $('users').replaceChildren();
  }

  function showDashboard(data) {
    const user = (data && typeof data.user === 'object' && data.user) || {};
    const email = user.email || (data && data.email) || $('email').value;
    say($('welcome'), (data && typeof data.message === 'string' && data.message) || 'Welcome to dashboard');
    $('welcome').hidden = false;
    $('user-email').textContent = email;
    say($('user-role'), typeof user.role === 'string' ? user.role : '');
    document.body.dataset.state = 'dashboard';
    $('login-view').hidden = true;
    $('dashboard').hidden = false;
    $('sessions-card').hidden = false;
    $('password-card').hidden = false;
  }

  // ---- users (admins) -------------------------------------------------------------------------------

  function renderUsers(users) {
    const rows = (Array.isArray(users) ? users : []).map((u) => {
      const row = el('li', 'session');
      row.dataset.userId = String(u.id);
      row.dataset.email = String(u.email);
      if (u.disabled) row.dataset.disabled = 'true';
      const info = el('div', 'session-info');
      const title = el('div', 'session-title', String(u.name) + ' ');
      title.append(el('span', 'badge', String(u.role)));
      if (u.disabled) title.append(' ', el('span', 'badge', 'disabled'));
      info.append(title, el('div', 'session-meta muted', String(u.email) + ' \u00b7 id ' + String(u.id)));
      const button = (label, className, action) => {
        const b = el('button', className + ' small', label);
        b.type = 'button';
        b.dataset.action = action;
        b.addEventListener('click', guarded(b, () => userAction(u, action)));
        return b;
      };
      row.append(info, button(u.disabled ? 'Enable' : 'Disable', 'danger', u.disabled ? 'enable' : 'disable'),
        button('Reset password', '', 'reset'), button('Revoke sessions', '', 'revoke'));
      return row;
    });
    $('users').replaceChildren(...rows);
  }

  // A list only a signed-in user may read (sessions, users) into its card: 401 means signed out.
  async function loadList(path, errorId, render) {
    const r = await api('GET', path);
    if (r.status === 401) return sessionGone();
    if (!r.ok || !r.data) return say($(errorId), errorOf(r));
    say($(errorId), '');
    render(r.data);
  }

  function loadUsers() {
    return loadList('/admin/users?limit=1000', 'users-error', (data) => renderUsers(data.users));
  }

  async function userAction(u, action) {
    const id = encodeURIComponent(String(u.id));
    let r;
    if (action === 'disable' || action === 'enable') {
      r = await sensitive('PATCH', '/admin/users/' + id, { disabled: action === 'disable' });
    } else if (action === 'reset') {
      const password = window.prompt('New password for ' + u.email + ' (at least 8 characters)');
      if (!password) return;
      r = await sensitive('POST', '/admin/users/' + id + '/password', { password });
    } else {
      r = await sensitive('POST', '/admin/users/' + id + '/revoke-sessions');
    }
    if (r === null) return; // the password prompt was cancelled
    if (r.status === 401) return sessionGone();
    notice(r.ok && r.data ? r.data.message : errorOf(r));
    await loadUsers();
  }

  function renderCart(items) {
    const list = Array.isArray(items) ? items : [];
    $('cart-items').replaceChildren(...list.map((item) => el('li', '', String(item))));
    $('cart-empty').hidden = list.length > 0;
  }

  function renderSessions(sessions) {
    const list = Array.isArray(sessions) ? sessions.slice() : [];
    // This device first, then the most recently active.
    list.sort((a, b) => (b.current === true) - (a.current === true) || toDate(b.lastSeenAt) - toDate(a.lastSeenAt));
    const rows = list.map((s) => {
      const row = el('li', 'session');
      row.dataset.handle = String(s.handle);
      if (s.current) row.dataset.current = 'true';
      const info = el('div', 'session-info');
      const title = el('div', 'session-title', describeAgent(s.userAgent));
      if (s.current) title.append(' ', el('span', 'badge current', 'This device'));
      const agent = el('div', 'session-agent muted', s.userAgent || 'No user agent');
      agent.title = s.userAgent || '';
      const meta = el('div', 'session-meta muted',
        (s.ip || 'unknown IP') + ' \u00b7 signed in ' + humanDate(s.createdAt) + ' \u00b7 active ' + humanAgo(s.lastSeenAt));
      info.append(title, agent, meta);
      row.append(info);
      if (!s.current) {
        const end = el('button', 'danger small', 'End session');
        end.type = 'button';
        end.addEventListener('click', () => endSession(String(s.handle), end));
        row.append(end);
      }
      return row;
    });
    $('sessions').replaceChildren(...rows);
    $('revoke-others').disabled = !list.some((s) => !s.current);
  }

  // ---- actions ------------------------------------------------------------------------------------

  // 401 on a logged-in action: the session ended elsewhere (revoked, expired); back to the form.
  function sessionGone() {
    stopIdleWatch();
    closeReauth(false);
    showLogin();
    notice('Your session has ended, please sign in again');
  }

  // ---- re-authentication: ask for the password in place, then retry -----------------------------

  let reauthDone = null; // resolves the pending prompt: true once re-authenticated, false if cancelled

  function askPassword() {
    if (reauthDone) return reauthDone.promise;
    let resolve;
    const promise = new Promise((r) => { resolve = r; });
    reauthDone = { promise, resolve };
    say($('reauth-error'), '');
    $('reauth').hidden = false;
    $('reauth-password').focus();
    return promise;
  }

  function closeReauth(ok) {
    $('reauth').hidden = true;
    $('reauth-password').value = '';
    if (reauthDone) reauthDone.resolve(ok);
    reauthDone = null;
  }

  // A sensitive action: on 401 REAUTH_REQUIRED ask for the password, then run it once more.
  // Resolves with the final answer, or null if the user cancelled.
  async function sensitive(method, path, body) {
    const r = await api(method, path, body);
    if (r.status !== 401 || !r.data || r.data.code !== 'REAUTH_REQUIRED') return r;
    if (!(await askPassword())) return null;
    return api(method, path, body);
  }

  // ---- idle warning: two minutes before the idle timeout, without extending it --------------------

  const WARN_MS = 120000;
  const MAX_TIMER_MS = 3600000; // look again at least hourly (setTimeout overflows past 2^31 ms)
  let idleTimer = 0;
  let tickTimer = 0;
  let watchGen = 0; // bumped by every stop: an answer for an older watch is ignored
  let deadline = 0; // performance.now() at which the session ends if idle

  function stopIdleWatch() {
    watchGen++;
    clearTimeout(idleTimer);
    clearInterval(tickTimer);
    $('idle-warning').hidden = true;
  }

  // GET /session does not slide the idle clock, so watching never keeps an idle session alive.
  // The server's own "now" sets the countdown: the device's clock may be off by minutes.
  async function watchIdle() {
    const gen = ++watchGen;
    const r = await api('GET', '/session');
    if (gen !== watchGen) return; // logged out (or watched again) meanwhile
    stopIdleWatch();
    if (!r.ok || !r.data) return;
    if (!r.data.authenticated) return sessionGone();
    const left = Date.parse(r.data.idleExpiresAt) - Date.parse(r.data.now);
    deadline = performance.now() + left;
    if (left > WARN_MS) {
      // Other requests may have slid the clock meanwhile: look again before warning.
      idleTimer = setTimeout(() => { watchIdle().catch(() => {}); }, Math.min(left - WARN_MS, MAX_TIMER_MS));
      return;
    }
    tick();
    tickTimer = setInterval(tick, 1000);
  }

  function tick() {
    const ms = deadline - performance.now();
    if (ms <= 0) {
      stopIdleWatch();
      watchIdle().catch(() => {}); // the server decides: signed out, or still there
      return;
    }
    const s = Math.floor(ms / 1000);
    const text = 'You will be signed out in ' + Math.floor(s / 60) + ':' + String(s % 60).padStart(2, '0');
    $('idle-text').textContent = text;
    $('idle-warning').hidden = false;
  }

  async function loadCart() {
    const r = await api('GET', '/cart');
    if (r.ok && r.data) renderCart(r.data.cart);
    else say($('cart-error'), errorOf(r));
  }

  function loadSessions() {
    return loadList('/sessions', 'sessions-error', (data) => renderSessions(data.sessions));
  }

  async function refresh() {
    const r = await api('GET', '/dashboard');
    if (r.status === 200) {
      showDashboard(r.data);
      await loadSessions();
      const profile = await api('GET', '/profile');
      const admin = profile.ok && profile.data && profile.data.user && profile.data.user.role === 'admin';
      $('users-card').hidden = !admin;
      if (admin) await loadUsers();
      await watchIdle();
    } else {
      showLogin();
      if (r.status !== 401) notice(r.status === 503 ? 'Service unavailable' : errorOf(r));
    }
    await loadCart();
  }

  async function endSession(handle, button) {
    button.disabled = true;
    const r = await sensitive('DELETE', '/sessions/' + encodeURIComponent(handle));
    if (r === null) return loadSessions();
    if (r.status === 401) return sessionGone();
    if (r.ok) notice((r.data && r.data.message) || 'Session ended');
    else notice(errorOf(r));
    await loadSessions();
  }

  // Wrap a handler: disable its button while it runs, report network failures.
  function guarded(button, handler) {
    return async (event) => {
      if (event) event.preventDefault();
      if (button.disabled) return;
      button.disabled = true;
      try {
        await handler();
      } catch {
        notice('Network error, please retry');
      } finally {
        button.disabled = false;
      }
    };
  }

  $('login-form').addEventListener('submit', guarded($('login-submit'), async () => {
    say($('login-error'), '');
    const r = await api('POST', '/login', {
      email: $('email').value.trim(),
      password: $('password').value,
      rememberMe: $('remember').checked,
    });
    $('password').value = '';
    if (!r.ok) return say($('login-error'), loginError(r));
    await refresh();
  }));

  $('logout').addEventListener('click', guarded($('logout'), async () => {
    const r = await api('POST', '/logout');
    if (!r.ok && r.status !== 401) return notice(errorOf(r));
    stopIdleWatch();
    showLogin();
    notice((r.data && r.data.message) || 'Logged out');
    await loadCart(); // the cart belonged to the ended session
  }));

  $('revoke-others').addEventListener('click', guarded($('revoke-others'), async () => {
    const r = await sensitive('POST', '/sessions/revoke-others');
    if (r === null) return;
    if (r.status === 401) return sessionGone();
    if (!r.ok) return notice(errorOf(r));
    const n = r.data && typeof r.data.ended === 'number' ? r.data.ended : 0;
    notice('Ended ' + n + ' other session' + (n === 1 ? '' : 's'));
    await loadSessions();
  }));

  $('reauth-form').addEventListener('submit', guarded($('reauth-submit'), async () => {
    const r = await api('POST', '/reauth', { password: $('reauth-password').value });
    $('reauth-password').value = '';
    if (r.status === 401) return sessionGone();
    if (!r.ok) return say($('reauth-error'), r.status === 403 ? 'Password is incorrect' : loginError(r));
    closeReauth(true);
    await watchIdle(); // a new session: its own idle clock
  }));

  $('reauth-cancel').addEventListener('click', () => closeReauth(false));

  $('stay-signed-in').addEventListener('click', guarded($('stay-signed-in'), async () => {
    const r = await api('POST', '/session/refresh');
    if (r.status === 401) return sessionGone();
    if (!r.ok) return notice(errorOf(r));
    await watchIdle();
  }));

  $('sessions-refresh').addEventListener('click', guarded($('sessions-refresh'), loadSessions));

  $('password-form').addEventListener('submit', guarded($('password-submit'), async () => {
    say($('password-error'), '');
    const r = await sensitive('POST', '/password', { currentPassword: $('current-password').value, newPassword: $('new-password').value });
    $('current-password').value = '';
    $('new-password').value = '';
    if (r === null) return;
    if (r.status === 401) return sessionGone();
    if (!r.ok) return say($('password-error'), errorOf(r));
    const n = r.data && typeof r.data.ended === 'number' ? r.data.ended : 0;
    notice('Password changed; ended ' + n + ' other session' + (n === 1 ? '' : 's'));
    await loadSessions();
  }));

  $('users-refresh').addEventListener('click', guarded($('users-refresh'), loadUsers));

  $('user-form').addEventListener('submit', guarded($('user-create'), async () => {
    say($('user-form-error'), '');
    const r = await sensitive('POST', '/admin/users', {
      email: $('new-user-email').value.trim(),
      name: $('new-user-name').value.trim(),
      role: $('new-user-role').value,
      password: $('new-user-password').value,
    });
    $('new-user-password').value = '';
    if (r === null) return;
    if (r.status === 401) return sessionGone();
    if (!r.ok) return say($('user-form-error'), errorOf(r));
    $('new-user-email').value = '';
    $('new-user-name').value = '';
    notice(r.data.message);
    await loadUsers();
  }));

  $('cart-form').addEventListener('submit', guarded($('cart-add'), async () => {
    const item = $('cart-item').value.trim();
    if (item === '') return;
    const r = await api('POST', '/cart', { item });
    if (!r.ok || !r.data) return say($('cart-error'), errorOf(r));
    say($('cart-error'), '');
    $('cart-item').value = '';
    renderCart(r.data.cart);
  }));

  refresh().catch(() => { showLogin(); notice('Network error, please reload'); });
})();
`
