import { Type, type Static } from 'typebox';

// A label the visitor's page chose (a widget keeps one per browser): shown to the owner, never a
// credential. Printable text without control characters.

export const StartVisitBody = Type.Object(
  {
    visitor_id: Type.String({
      minLength: 1,
      maxLength: 128,
      pattern: '^[^\\u0000-\\u001f\\u007f]+$',
      description: "The page's own name for this visitor, shown in the owner's inbox. A label only: it never finds or opens another visitor's conversations.",
    }),
    visitor_name: Type.Optional(
      Type.Union([Type.String({ maxLength: 100, pattern: '^[^\\u0000-\\u001f\\u007f]*$' }), Type.Null()], {
        description: 'A name the visitor gave, if any (at most 100 characters)',
      }),
    ),
  },
  { additionalProperties: false, title: 'NewVisit' },
);
export type StartVisitInput = Static<typeof StartVisitBody>;

export const VisitSchema = Type.Object(
  {
    conversation_id: Type.String({ format: 'uuid' }),
    visitor_token: Type.String({
      description: 'Send as `Authorization: Bearer <visitor_token>` to this conversation\'s routes, and to this route to start another conversation as the same visitor. Opens only this visitor\'s conversations on this chatbot.',
    }),
    expires_at: Type.String({ format: 'date-time', description: 'When the token lapses; each new conversation renews it (30 days).' }),
  },
  { title: 'Visit' },
);
export type Visit = Static<typeof VisitSchema>;
