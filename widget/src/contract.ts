// What the loader hands the panel when the panel module is loaded: the shadow root it draws in,
// the options read from the script tag, and the Parley server to talk to.
import type { Locale, Strings } from './i18n.js';

export type Theme = 'auto' | 'light' | 'dark';

export interface WidgetOptions {
  /** The chatbot's slug or id (`data-chatbot`). */
  chatbot: string;
  /** The host site's signed-in user's token (`data-user-token`, or `Parley.setUserToken`). */
  userToken: string | null;
  theme: Theme;
  locale: Locale;
  /** `page`: the hosted chat page (`/c/{slug}`): the panel fills the window and has no launcher. */
  mode: 'bubble' | 'page';
}

export interface MountContext {
  root: ShadowRoot;
  /** Where the panel goes: the element in the shadow root that holds what the widget shows. */
  frame: HTMLElement;
  host: HTMLElement;
  /** Absent on the hosted page. */
  launcher: HTMLButtonElement | null;
  /** Parley's origin, where widget.js came from: every API call goes there. */
  api: string;
  options: WidgetOptions;
  strings: Strings;
}

export interface Panel {
  open(): void;
  close(): void;
  setUserToken(token: string | null): void;
  newConversation(): void;
}

export interface ParleyApi extends Panel {
  readonly version: string;
}
