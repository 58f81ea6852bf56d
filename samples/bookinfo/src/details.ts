// Bookinfo details: the book's publication details. `node details.js [port]`

import { parseId, sendJson, serve } from './common.js';

interface BookDetails {
  id: number;
  author: string;
  year: number;
  type: string;
  pages: number;
  publisher: string;
  language: string;
  'ISBN-10': string;
  'ISBN-13': string;
}

function bookDetails(id: number): BookDetails {
  return {
    id,
    author: 'William Shakespeare',
    year: 1595,
    type: 'paperback',
    pages: 200,
    publisher: 'PublisherA',
    language: 'English',
    'ISBN-10': '1234567890',
    'ISBN-13': '123-1234567890',
  };
}

serve('details', (req, res, path) => {
  if (path === '/health') return sendJson(res, 200, { status: 'Details is healthy' });
  if (req.method === 'GET' && path.startsWith('/details/')) {
    const id = parseId(path.slice('/details/'.length));
    if (id === undefined) return sendJson(res, 400, { error: 'please provide numeric product id' });
    return sendJson(res, 200, bookDetails(id));
  }
  sendJson(res, 404, { error: 'not found' });
});
