// In forced colours (Windows High Contrast) backgrounds and shadows are dropped: bubbles and the
// send button are drawn by their borders there, or the chat was lines of text with no telling who
// wrote which, and Send a word with nothing to show it was a button.
// The panel: a dialog above the launcher, the whole window on small screens (safe areas kept
// clear), and the whole page on the hosted chat page (whose title is the page's h1, styled as the
// panel's h2: unstyled, a long name filled a phone's header or pushed its buttons off screen).

/**
 * Screens where the panel is the whole window: narrow ones, and short ones, a phone held sideways
 * (844 × 390: a box there was 280 px high, about five lines of log, and went under the keyboard).
 */
export const SMALL_SCREEN = '(max-width:640px),(max-height:480px)';

export const PANEL_CSS = `
[hidden]{display:none!important}
.panel{position:absolute;bottom:72px;right:0;width:min(400px,calc(100vw - 40px));height:min(640px,calc(100vh - 112px));
display:flex;flex-direction:column;background:var(--_bg);color:var(--_fg);border:1px solid var(--_line);border-radius:16px;
box-shadow:0 12px 40px rgb(0 0 0/.3);overflow:hidden}
:host([data-position=bottom-left]) .panel{right:auto;left:0}
:host([data-mode=page]) .panel{position:fixed;inset:0;width:auto;height:auto;border:0;border-radius:0;box-shadow:none}
@media ${SMALL_SCREEN}{.panel{position:fixed;inset:0;width:auto;height:auto;border:0;border-radius:0;
padding:env(safe-area-inset-top) env(safe-area-inset-right) env(safe-area-inset-bottom) env(safe-area-inset-left)}}
header{display:flex;align-items:center;gap:4px;padding:6px 6px 6px 16px;border-bottom:1px solid var(--_line)}
h1,h2{flex:1;min-width:0;margin:0;font-size:16px;font-weight:600;overflow:hidden;text-overflow:ellipsis;white-space:nowrap}
button{font:inherit;color:inherit;cursor:pointer}
.icon{min-width:44px;min-height:44px;border:0;border-radius:8px;background:transparent;font-size:20px;line-height:1}
.icon:hover{background:var(--_surface)}
button:focus-visible,textarea:focus-visible,a:focus-visible,.list button:focus-visible{outline:3px solid var(--_accent);outline-offset:1px}
.log{flex:1;overflow-y:auto;padding:12px 16px;display:flex;flex-direction:column;gap:8px;overscroll-behavior:contain}
.msg{max-width:85%;padding:8px 12px;border-radius:14px;overflow-wrap:anywhere;unicode-bidi:isolate}
.msg.long{width:85%}
.msg[data-role=assistant]{align-self:flex-start;background:var(--_surface);border-bottom-left-radius:4px}
.msg[data-role=user]{align-self:flex-end;background:var(--_accent);color:var(--_on-accent);border-bottom-right-radius:4px}
.msg p,.msg ul,.msg ol,.msg pre{margin:0 0 6px}.msg>:last-child{margin-bottom:0}
.msg ul,.msg ol{padding-left:20px}
.msg .rest{white-space:pre-wrap}
.msg a{color:inherit;text-decoration:underline}
.msg code{font-family:ui-monospace,Menlo,Consolas,monospace;font-size:13px}
.msg pre{padding:8px;border-radius:8px;background:rgb(127 127 127/.16);white-space:pre-wrap;overflow-wrap:anywhere}
.msg pre>code,.msg pre>code>span{display:block}
.note{font-size:13px;color:var(--_muted);margin-top:4px}
.msg[data-role=user] .note{color:inherit}
.list{flex:1;overflow-y:auto;padding:8px}
.list button{display:block;width:100%;text-align:left;padding:10px 12px;min-height:44px;border:0;border-radius:8px;background:transparent;
overflow-wrap:anywhere}
.list button:hover{background:var(--_surface)}
.list small{display:block;color:var(--_muted)}
.error{margin:0 12px 8px;padding:8px 12px;border-radius:8px;background:var(--_err-bg);color:var(--_err-fg);display:flex;gap:8px;align-items:center}
.error span{flex:1}
.error button{border:1px solid currentColor;border-radius:6px;background:transparent;min-height:36px;padding:0 10px}
form{display:flex;gap:8px;align-items:flex-end;padding:8px 12px 12px;border-top:1px solid var(--_line)}
textarea{flex:1;resize:none;font:inherit;font-size:16px;line-height:1.4;max-height:160px;min-height:44px;box-sizing:border-box;
padding:10px 12px;border:1px solid var(--_line);border-radius:12px;background:var(--_bg);color:var(--_fg)}
textarea::placeholder{color:var(--_muted);opacity:1}
.send{min-width:64px;min-height:44px;border:0;border-radius:12px;padding:0 14px;background:var(--_accent);color:var(--_on-accent);font-weight:600}
.stop{min-height:44px;border:1px solid var(--_line);border-radius:12px;padding:0 14px;background:var(--_bg)}
button:disabled{opacity:.55;cursor:not-allowed}
.sr{position:absolute;width:1px;height:1px;overflow:hidden;clip:rect(0 0 0 0);white-space:nowrap}
@media (forced-colors:active){.msg{border:1px solid CanvasText}.send,.stop{border:1px solid ButtonText}}
`;
