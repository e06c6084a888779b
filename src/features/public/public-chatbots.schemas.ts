import { Type, type Static } from 'typebox';

/**
 * How public routes name a chatbot: its slug (any case) or its id (any case). Kept loose here
 * and read by the service, so a malformed name is the same 404 as an unknown one, never a 422
 * that would tell shapes apart. Shared by every route under /v1/public/chatbots/{chatbot}.
 */
export const PublicChatbotParams = Type.Object({
  chatbot: Type.String({ description: 'The chatbot\'s slug (e.g. acme-support) or its id' }),
});

/** What anyone may see of a public chatbot: enough for a widget or hosted page to greet a visitor. */
export const PublicChatbotSchema = Type.Object(
  {
    id: Type.String({ format: 'uuid' }),
    slug: Type.String(),
    name: Type.String(),
    description: Type.String(),
    greeting: Type.String(),
    max_message_chars: Type.Integer({
      minimum: 1,
      description: 'The longest message this server takes, in characters (its MAX_MESSAGE_CHARS): a widget stops the visitor there, where a longer one would be refused with 422',
    }),
    owner: Type.Object({
      username: Type.Union([Type.String(), Type.Null()], {
        description: 'The owner\'s username; null when the only name the owner has is an email address, which is never shown',
      }),
    }),
  },
  { title: 'PublicChatbot' },
);
export type PublicChatbot = Static<typeof PublicChatbotSchema>;
