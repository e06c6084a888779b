// The colours every part of the widget uses, and the launcher. Contrast is at least 4.5:1 in
// both themes; a host page restyles through --parley-* properties and ::part(). The theme also
// sets color-scheme, so what the browser draws itself (scrollbars) is dark on the dark panel.
const DARK =
  '--_accent:var(--parley-accent,#93c5fd);--_on-accent:var(--parley-on-accent,#0b1220);--_bg:var(--parley-background,#18181b);' +
  '--_fg:var(--parley-text,#f4f4f5);--_muted:#b4b4bc;--_line:#52525b;--_surface:#27272a;--_err-bg:#450a0a;--_err-fg:#fecaca;--_scheme:dark';

// The page's own rules for the <parley-widget> element win over :host (a reset that unsets every
// element, a rule for every child of <body>), and what it inherits flows into the shadow root: so
// the element itself draws no box (display: contents) and everything the widget shows sits in
// .frame, which no page selector reaches and which inherits nothing (all: initial). The page can
// still hide the element with display: none.
export const LAUNCHER_CSS = `
:host{all:initial;display:contents;
--_accent:var(--parley-accent,#1d4ed8);--_on-accent:var(--parley-on-accent,#fff);--_bg:var(--parley-background,#fff);
--_fg:var(--parley-text,#18181b);--_muted:#52525b;--_line:#a1a1aa;--_surface:#f4f4f5;--_err-bg:#fef2f2;--_err-fg:#7f1d1d;--_scheme:light}
:host([data-theme=dark]){${DARK}}
@media (prefers-color-scheme:dark){:host([data-theme=auto]){${DARK}}}
.frame{all:initial;position:fixed;z-index:2147483000;bottom:20px;right:20px;
font-family:var(--parley-font,system-ui,-apple-system,"Segoe UI",Roboto,"Noto Sans","Noto Sans TC","Noto Sans Bengali",sans-serif);
font-size:15px;line-height:1.5;color:var(--_fg);color-scheme:var(--_scheme)}
:host([data-position=bottom-left]) .frame{right:auto;left:20px}
:host([data-mode=page]) .frame{inset:0;z-index:auto}
.launcher{width:56px;height:56px;border-radius:50%;border:0;padding:0;background:var(--_accent);color:var(--_on-accent);
cursor:pointer;display:grid;place-items:center;box-shadow:0 4px 14px rgb(0 0 0/.28);transition:transform .15s}
.launcher:hover{transform:scale(1.06)}
.launcher:focus-visible{outline:3px solid #18181b;outline-offset:2px;box-shadow:0 0 0 7px #fff}
.launcher svg{width:28px;height:28px;fill:currentColor}
:host(:not([data-open])) .shut,:host([data-open]) .chat{display:none}
@media (prefers-reduced-motion:reduce){*{transition:none!important;animation:none!important}}
@media (forced-colors:active){.launcher{border:2px solid ButtonText}}
`;
