import type { onRequestHookHandler } from 'fastify';
import { Type } from 'typebox';
import { IdParams } from '../../http/params.js';
import { bearerSecurity, problems } from '../../http/schemas.js';
import type { App } from '../../http/types.js';
import { principalOf } from '../auth/authenticate.js';
import { CreateDocumentBody, DOCUMENT_BODY_LIMIT, DocumentPage, DocumentParams, DocumentSchema, ListDocumentsQuery } from './knowledge.schemas.js';
import type { KnowledgeService } from './knowledge.service.js';

const tags = ['knowledge'];

export function registerKnowledgeRoutes(app: App, deps: { knowledge: KnowledgeService; authenticate: onRequestHookHandler }): void {
  const { knowledge, authenticate } = deps;
  const security = bearerSecurity;

  app.post(
    '/v1/chatbots/:id/knowledge',
    {
      onRequest: authenticate,
      // Its own limit, not BODY_LIMIT: the largest document is several times a megabyte as JSON.
      bodyLimit: DOCUMENT_BODY_LIMIT,
      schema: {
        tags,
        security,
        summary: 'Add a text or Markdown document to a chatbot\'s knowledge',
        description: `Takes a body of up to ${DOCUMENT_BODY_LIMIT.toLocaleString('en-US')} bytes, whatever BODY_LIMIT says: enough for the longest document written as \\u escapes; a larger body answers 413. So does a document that would take the account's knowledge (the UTF-8 bytes of the documents of all its chatbots) past KNOWLEDGE_LIMIT_PER_ACCOUNT, storing nothing; the list says what is held and allowed.`,
        params: IdParams,
        body: CreateDocumentBody,
        response: { 201: DocumentSchema, ...problems(400, 401, 404, 413, 422, 429) },
      },
    },
    async (request, reply) => reply.code(201).send(await knowledge.add(principalOf(request), request.params.id, request.body)),
  );

  app.get(
    '/v1/chatbots/:id/knowledge',
    {
      onRequest: authenticate,
      schema: { tags, security, summary: 'A chatbot\'s knowledge documents, newest first', params: IdParams, querystring: ListDocumentsQuery, response: { 200: DocumentPage, ...problems(401, 404, 422) } },
    },
    async (request) => knowledge.list(principalOf(request), request.params.id, request.query),
  );

  app.delete(
    '/v1/chatbots/:id/knowledge/:doc_id',
    {
      onRequest: authenticate,
      schema: { tags, security, summary: 'Remove a knowledge document', params: DocumentParams, response: { 204: Type.Null(), ...problems(401, 404) } },
    },
    async (request, reply) => {
      await knowledge.remove(principalOf(request), request.params.id, request.params.doc_id);
      return reply.code(204).send(null);
    },
  );
}
