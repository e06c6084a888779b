// Starting a visitor's conversation with a public chatbot (§7). A visitor is whoever holds a
// visitor token: without one, a new visitor is recorded; with one, the same visitor starts
// another conversation and their token is renewed. The page's `visitor_id` is kept as a label.
import { AppError, validationError } from '../../errors/app-error.js';
import type { Clock } from '../../lib/clock.js';
import { breaksLine, NOT_ONE_LINE_MESSAGE } from '../../lib/one-line.js';
import type { PublicChatbotRow } from './public-chatbots.repo.js';
import { invalidVisitorToken, newVisitorId, type VisitorClaims, type VisitorTokens } from './visitor-tokens.js';
import type { StartVisitInput, Visit } from './visitors.schemas.js';
import type { VisitorsRepo, VisitStart } from './visitors.repo.js';

export interface VisitorsService {
  /** `returning`: the claims of the visitor token the request carried, if any (already verified). */
  start(chatbot: PublicChatbotRow, input: StartVisitInput, returning: VisitorClaims | null): Promise<Visit>;
  /** A host site's signed-in user (their token already verified): their one visitor on this chatbot. */
  startVerified(chatbot: PublicChatbotRow, input: StartVisitInput, user: { id: string; username: string }): Promise<Visit>;
}

export const noPublicChatbot = () => new AppError('not_found', 'No public chatbot with this slug or id');

/**
 * The visitor's label and name are each one line of the owner's inbox: a direction override would
 * show them reversed, a separator or a C1 escape would break or rewrite the line (the rule a
 * chatbot's name follows). The schema refuses C0 controls already.
 */
function checkLabels(input: StartVisitInput): void {
  if (breaksLine(input.visitor_id)) throw validationError('visitor_id', NOT_ONE_LINE_MESSAGE);
  if (input.visitor_name != null && breaksLine(input.visitor_name.trim())) throw validationError('visitor_name', NOT_ONE_LINE_MESSAGE);
}

export function createVisitorsService(deps: { visitors: VisitorsRepo; tokens: VisitorTokens; clock: Clock; newId: () => string }): VisitorsService {
  const { visitors, tokens, clock, newId } = deps;

  // A verified visit's token names its user, so it stops opening anything once they are deactivated.
  async function visitOf(chatbot: PublicChatbotRow, conversationId: string, visitor: string, verifiedUser: string | null): Promise<Visit> {
    const signed = await tokens.sign({ visitor, chatbotId: chatbot.id, ownerId: chatbot.ownerId, ...(verifiedUser ? { verifiedUser } : {}) });
    return { conversation_id: conversationId, visitor_token: signed.token, expires_at: signed.expiresAt.toISOString() };
  }

  return {
    async start(chatbot, input, returning) {
      checkLabels(input);
      if (returning && (returning.chatbotId !== chatbot.id || returning.ownerId !== chatbot.ownerId)) {
        throw invalidVisitorToken('This visitor token is for another chatbot');
      }
      const name = input.visitor_name?.trim() || null;
      const visitor: VisitStart['visitor'] = returning ? { known: returning.visitor } : { new: newVisitorId(), label: input.visitor_id };
      const conversationId = newId();
      const now = clock.now();
      const started = await visitors.startVisit({ ownerId: chatbot.ownerId, chatbotId: chatbot.id, conversationId, visitor, name }, now);
      if (started === 'no_chatbot') throw noPublicChatbot();
      if (started === 'unknown_visitor') throw invalidVisitorToken('This visitor is no longer on record; start again without a token');
      const visitorKey = 'known' in visitor ? visitor.known : visitor.new;
      return visitOf(chatbot, conversationId, visitorKey, started.verifiedUser);
    },
    async startVerified(chatbot, input, user) {
      checkLabels(input);
      const conversationId = newId();
      const name = input.visitor_name?.trim() || user.username;
      const visitor = await visitors.startVerifiedVisit(
        { ownerId: chatbot.ownerId, chatbotId: chatbot.id, conversationId, userId: user.id, label: input.visitor_id, name, newVisitor: newVisitorId() },
        clock.now(),
      );
      if (visitor === null) throw noPublicChatbot();
      return visitOf(chatbot, conversationId, visitor, user.id);
    },
  };
}
