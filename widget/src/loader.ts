// widget.js: what every page view of a host site pays for, so it stays tiny and does no work for
// a visitor who never chats. It draws the launcher (a real button in an open shadow root), then
// waits: the panel's code is fetched on hover, focus or first open, and no request reaches the
// API until the visitor opens the chat.
import { pickLocale, STRINGS } from './i18n.js';
import type { MountContext, Panel, ParleyApi, Theme, WidgetOptions } from './contract.js';
import { LAUNCHER_CSS } from './launcher-styles.js';

declare const PANEL_FILE: string;

const SVG = 'http://www.w3.org/2000/svg';

/** A speech bubble while the chat is closed, a cross while it is open. */
function icons(): SVGSVGElement[] {
  const shapes = {
    chat: 'M4 4h16a2 2 0 0 1 2 2v10a2 2 0 0 1-2 2H9l-5 4v-4a2 2 0 0 1-2-2V6a2 2 0 0 1 2-2z',
    shut: 'M6.4 5 12 10.6 17.6 5 19 6.4 13.4 12l5.6 5.6-1.4 1.4-5.6-5.6L6.4 19 5 17.6 10.6 12 5 6.4z',
  };
  return Object.entries(shapes).map(([name, d]) => {
    const svg = document.createElementNS(SVG, 'svg');
    svg.setAttribute('viewBox', '0 0 24 24');
    svg.setAttribute('aria-hidden', 'true');
    svg.setAttribute('focusable', 'false');
    svg.setAttribute('class', name);
    const path = document.createElementNS(SVG, 'path');
    path.setAttribute('d', d);
    svg.append(path);
    return svg;
  });
}

function launcherButton(label: string): HTMLButtonElement {
  const launcher = document.createElement('button');
  launcher.type = 'button';
  launcher.part.add('launcher');
  launcher.className = 'launcher';
  launcher.setAttribute('aria-label', label);
  launcher.setAttribute('aria-expanded', 'false');
  launcher.setAttribute('aria-haspopup', 'dialog');
  launcher.append(...icons());
  return launcher;
}

/**
 * A `data-*` attribute of the tag, or undefined. Not through `dataset`: a missing name there is
 * looked up on Object.prototype, and a host page whose prototype was polluted
 * (`?__proto__[userToken]=…`) handed every visitor's chat to the attacker's account.
 */
const attribute = (script: HTMLScriptElement, name: string): string | undefined => script.getAttribute(`data-${name}`) ?? undefined;

function readOptions(script: HTMLScriptElement): WidgetOptions {
  const data = (name: string) => attribute(script, name);
  const theme = data('theme') === 'light' || data('theme') === 'dark' ? (data('theme') as Theme) : 'auto';
  return {
    chatbot: (data('chatbot') ?? '').trim(),
    userToken: data('user-token')?.trim() || null,
    theme,
    locale: pickLocale(data('locale'), document.documentElement.lang, navigator.language),
    mode: data('mode') === 'page' ? 'page' : 'bubble',
  };
}

/** The element's shadow root, styled, and the frame in it that holds what the widget shows. */
function shadowFrame(host: HTMLElement): { root: ShadowRoot; frame: HTMLDivElement } {
  const root = host.attachShadow({ mode: 'open' });
  // A constructed sheet is not an inline <style>: a host page's strict style-src does not block it.
  const sheet = new CSSStyleSheet();
  sheet.replaceSync(LAUNCHER_CSS);
  root.adoptedStyleSheets = [sheet];
  // Out of reach of the page's rules for the element (launcher-styles.ts).
  const frame = document.createElement('div');
  frame.className = 'frame';
  root.append(frame);
  return { root, frame };
}

/**
 * Whether fixed boxes inside `element` are placed against it rather than the window: a transform,
 * a filter or containment on it does that (page-transition libraries and "GPU" hacks set them on
 * <body>), and the launcher would sit at the page's end, out of sight.
 */
function holdsFixed(element: Element): boolean {
  const s = getComputedStyle(element);
  return (
    [s.transform, s.translate, s.rotate, s.scale, s.perspective, s.filter, s.backdropFilter].some((value) => !!value && value !== 'none') ||
    /transform|translate|rotate|scale|perspective|filter/.test(s.willChange) ||
    /paint|layout|strict|content/.test(s.contain) ||
    (!!s.containerType && s.containerType !== 'normal') ||
    (!!s.contentVisibility && s.contentVisibility !== 'visible')
  );
}

/** In <body>, or beside it under <html> when <body> would carry the widget's fixed frame along. */
function place(host: HTMLElement): void {
  const body = document.body;
  if (!body) return;
  const parent = holdsFixed(body) ? document.documentElement : body;
  if (host.parentNode !== parent) parent.append(host);
}

/**
 * Keeps the widget (about to go into <body>) where its fixed frame means the window. `recheck`
 * places a closed widget again in the next frame; `keep` puts it back when the page took it out.
 */
function keepPlaced(host: HTMLElement, isOpen: () => boolean): { recheck: () => void; keep: () => void } {
  // A page transition gives <body> a transform for a moment, by a class or a style on <html> or
  // <body>: a closed widget is placed again, and back in <body> after. Not while open or holding
  // the focus, which moving an element takes from it.
  let queued = false;
  const recheck = () => {
    if (queued) return;
    queued = true;
    requestAnimationFrame(() => {
      queued = false;
      if (!isOpen() && document.activeElement !== host) place(host);
    });
  };
  const styles = new MutationObserver(recheck);
  let watched: HTMLElement | null = null;
  const watch = (element: HTMLElement | null) => element && styles.observe(element, { attributes: true, attributeFilter: ['class', 'style'] });
  // A site that navigates by swapping its <body> for the next page's (Turbo, htmx's boost) takes
  // the widget out with the old one: it goes into the new one, its conversation still open.
  const keep = () => {
    if (!host.isConnected) place(host);
    if (watched && document.body && document.body !== watched) watch((watched = document.body));
  };
  // In the first frame, after the launcher is drawn: where <body> holds fixed boxes (its style is
  // computed then anyway, and the launcher moves before it is first painted), then the watching.
  requestAnimationFrame(() => {
    place(host);
    watch(document.documentElement);
    watch((watched = document.body));
    new MutationObserver(keep).observe(document.documentElement, { childList: true });
  });
  return { recheck, keep };
}

/** Draws the widget; returns what puts it back in the page's <body> when the page took it out. */
function start(script: HTMLScriptElement): (() => void) | undefined {
  const options = readOptions(script);
  // A tag without data-chatbot names nothing to talk to: draw nothing rather than a dead button.
  if (!options.chatbot) return undefined;
  const api = new URL(script.src).origin;
  const strings = STRINGS[options.locale];
  const host = document.createElement('parley-widget');
  host.setAttribute('data-theme', options.theme);
  host.setAttribute('data-position', attribute(script, 'position') === 'bottom-left' ? 'bottom-left' : 'bottom-right');
  host.setAttribute('data-mode', options.mode);
  host.setAttribute('lang', options.locale);
  const { root, frame } = shadowFrame(host);

  let launcher: HTMLButtonElement | null = null;
  if (options.mode === 'bubble') frame.append((launcher = launcherButton(strings.open)));

  let module: Promise<{ mount(context: MountContext): Panel }> | undefined;
  let panel: Promise<Panel> | undefined;
  const load = () => (module ??= import(/* @vite-ignore */ `${api}/widget/${PANEL_FILE}`));
  // Opening is split into tasks (evaluate the panel, build it, show it) so that no single one
  // holds the host page's main thread for long, even on a slow phone.
  const nextTask = () => new Promise((resolve) => setTimeout(resolve));
  const ready = () => (panel ??= load().then(async (m) => (await nextTask(), m.mount({ root, frame, host, launcher, api, options, strings }))));
  let isOpen = false;
  const placing = keepPlaced(host, () => isOpen);

  const api$: ParleyApi = {
    version: PANEL_FILE,
    open() {
      performance.mark('parley-open');
      // A transform the page set on <body> since (a page transition) would carry the panel away.
      if (!isOpen) place(host);
      isOpen = true;
      host.setAttribute('data-open', '');
      void ready().then(async (p) => (await nextTask(), isOpen && p.open()));
    },
    close() {
      isOpen = false;
      host.removeAttribute('data-open');
      void panel?.then((p) => p.close());
      placing.recheck();
    },
    setUserToken(token) {
      options.userToken = token || null;
      void panel?.then((p) => p.setUserToken(options.userToken));
    },
    newConversation() {
      void ready().then((p) => p.newConversation());
    },
  };
  if (launcher) {
    launcher.addEventListener('pointerenter', () => void load(), { once: true });
    launcher.addEventListener('focus', () => void load(), { once: true });
    launcher.addEventListener('click', () => (isOpen ? api$.close() : api$.open()));
    host.addEventListener('parley:closed', () => {
      isOpen = false;
      host.removeAttribute('data-open');
      placing.recheck();
    });
  }
  (window as unknown as { Parley: ParleyApi }).Parley = api$;

  document.body.append(host);
  performance.mark('parley-launcher');
  if (options.mode === 'page' || attribute(script, 'open') === 'true') api$.open();
  return placing.keep;
}

/**
 * The tag this loader came from. A module script (`type="module"`) has no currentScript: then
 * the first tag that loads a widget.js and names a chatbot.
 */
function ownTag(): Element | null {
  return (
    document.currentScript ??
    Array.from(document.querySelectorAll<HTMLScriptElement>('script[src][data-chatbot]')).find((tag) => /\/widget\.js(?:[?#]|$)/.test(tag.src)) ??
    null
  );
}

// The loader's first statement: with `parley-launcher`, what the loader itself costs the page.
performance.mark('parley-script');
const script = ownTag();
// Once per page: a second copy of the tag (or of the script) leaves the first widget alone. A
// mark of the loader's own, set at once: an element with id or name "Parley" is window.Parley
// too, and a page (or a forum post on it) holding one kept the widget from ever appearing.
// The mark puts the first widget back when such a copy runs after the page replaced the content
// of its <body> (Turbo and htmx run the scripts of the new content).
const LOADED = Symbol.for('parley.widget');
const marks = window as unknown as Record<symbol, unknown>;
const running = marks[LOADED];
if (running) {
  if (typeof running === 'function') (running as () => void)();
} else if (script instanceof HTMLScriptElement) {
  let keep: (() => void) | undefined;
  marks[LOADED] = () => keep?.();
  if (document.body) keep = start(script);
  else document.addEventListener('DOMContentLoaded', () => (keep = start(script)), { once: true });
}
