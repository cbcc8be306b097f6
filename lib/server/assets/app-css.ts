/**
 * The login page's stylesheet, served as /assets/app.css (`style-src 'self'`: no inline styles).
 * System fonts, one centered column of cards, light and dark schemes, narrow screens stack rows.
 */
export const APP_CSS = `:root {
  color-scheme: light dark;
  --bg: #f4f5f7;
  --card: #ffffff;
  --text: #1d2330;
  --muted: #5e6675;
  --border: #dde1e7;
  --accent: #2f5bea;
  --accent-text: #ffffff;
  --danger: #c62f3b;
  --danger-bg: #fdecee;
  --ok-bg: #e8f3ec;
  --ok-text: #1e6b3a;
  --radius: 10px;
}
@media (prefers-color-scheme: dark) {
  :root {
    --bg: #14161b;
    --card: #1e2128;
    --text: #e7e9ee;
    --muted: #9aa1ad;
    --border: #343944;
    --accent: #6d8cff;
    --accent-text: #0d1020;
    --danger: #ff7b86;
    --danger-bg: #3a1d22;
    --ok-bg: #1b3225;
    --ok-text: #9be0b2;
  }
}
*, *::before, *::after { box-sizing: border-box; }
[hidden] { display: none !important; }
html { -webkit-text-size-adjust: 100%; }
body {
  margin: 0;
  background: var(--bg);
  color: var(--text);
  font: 16px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif;
}
.wrap { max-width: 640px; margin: 0 auto; padding: 32px 16px 48px; }
.brand { text-align: center; margin-bottom: 24px; }
.brand h1 { margin: 0; font-size: 1.75rem; letter-spacing: -0.02em; }
.brand p { margin: 4px 0 0; }
h2 { margin: 0 0 16px; font-size: 1.2rem; }
.muted { color: var(--muted); }
.card {
  background: var(--card);
  border: 1px solid var(--border);
  border-radius: var(--radius);
  box-shadow: 0 1px 3px rgba(0, 0, 0, 0.06);
  padding: 24px;
  margin-bottom: 16px;
}
.row { display: flex; align-items: flex-start; justify-content: space-between; gap: 16px; }
.row h2, .row p { margin-bottom: 0; }
.row p { margin-top: 4px; }
.actions { margin-top: 16px; display: flex; justify-content: flex-end; }
label { display: block; font-weight: 600; font-size: 0.9rem; margin: 12px 0 4px; }
label.check { display: flex; align-items: center; gap: 8px; font-weight: 400; margin: 16px 0; }
input[type="email"], input[type="password"], input:not([type]) {
  width: 100%;
  padding: 10px 12px;
  font: inherit;
  color: inherit;
  background: var(--bg);
  border: 1px solid var(--border);
  border-radius: 8px;
}
input:focus-visible, button:focus-visible { outline: 2px solid var(--accent); outline-offset: 2px; }
input[type="checkbox"] { width: 18px; height: 18px; margin: 0; accent-color: var(--accent); }
button {
  font: inherit;
  font-weight: 600;
  padding: 9px 16px;
  border-radius: 8px;
  border: 1px solid var(--border);
  background: var(--card);
  color: var(--text);
  cursor: pointer;
  white-space: nowrap;
}
button:hover { border-color: var(--muted); }
button:disabled { opacity: 0.55; cursor: default; }
button.primary { background: var(--accent); border-color: var(--accent); color: var(--accent-text); }
button.danger { color: var(--danger); border-color: var(--danger); background: transparent; }
button.danger:hover { background: var(--danger-bg); }
button.small { padding: 5px 10px; font-size: 0.85rem; }
#login-form button[type="submit"] { width: 100%; }
.error {
  margin: 12px 0;
  padding: 10px 12px;
  border-radius: 8px;
  background: var(--danger-bg);
  color: var(--danger);
}
.notice {
  margin: 0 0 16px;
  padding: 10px 14px;
  border-radius: 8px;
  background: var(--ok-bg);
  color: var(--ok-text);
}
.notice.warning { background: var(--danger-bg); color: var(--danger); align-items: center; }
#reauth .actions { display: flex; gap: 8px; justify-content: flex-end; }
.badge {
  display: inline-block;
  padding: 1px 8px;
  border-radius: 999px;
  font-size: 0.75rem;
  font-weight: 600;
  vertical-align: middle;
  background: var(--bg);
  border: 1px solid var(--border);
  color: var(--muted);
}
.badge.current { background: var(--ok-bg); border-color: transparent; color: var(--ok-text); }
.sessions, .cart-items { list-style: none; margin: 0; padding: 0; }
.sessions { margin-top: 16px; }
.session {
  display: flex;
  align-items: center;
  justify-content: space-between;
  gap: 12px;
  padding: 12px 0;
  border-top: 1px solid var(--border);
}
.session:first-child { border-top: 0; padding-top: 0; }
.session-info { min-width: 0; }
.session-title { font-weight: 600; }
.session-agent, .session-meta { font-size: 0.85rem; }
.session-agent { overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
.inline { display: flex; gap: 8px; }
.inline input { flex: 1; min-width: 0; }
.cart-items { margin-top: 12px; }
.cart-items li { padding: 8px 12px; border-radius: 8px; background: var(--bg); margin-top: 6px; overflow-wrap: anywhere; }
#cart-empty { margin: 12px 0 0; }
.sr-only {
  position: absolute;
  width: 1px;
  height: 1px;
  overflow: hidden;
  clip: rect(0 0 0 0);
  white-space: nowrap;
}
@media (max-width: 480px) {
  .wrap { padding-top: 16px; }
  .card { padding: 16px; }
  .row { flex-wrap: wrap; }
  .session { flex-direction: column; align-items: stretch; }
  .inline { flex-direction: column; }
}
`
