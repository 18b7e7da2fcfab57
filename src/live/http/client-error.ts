// What a live node answers when node:http cannot parse a request (http's `clientError`): a JSON error like every
// other refusal, instead of http's bare status line. Heads over the size limit get 431, http's own deadlines 408,
// anything else unparsable (unknown method, bad framing, garbage) 400.
import type { Duplex } from 'node:stream'
import { LiveError, type LiveErrorCode } from '../errors.ts'

const ANSWERS: Record<string, { code: LiveErrorCode; message: string }> = {
  HPE_HEADER_OVERFLOW: { code: 'LIVE_HEADERS_TOO_LARGE', message: 'request head over the header size limit' },
  ERR_HTTP_REQUEST_TIMEOUT: { code: 'LIVE_REQUEST_TIMEOUT', message: 'request not received in time' },
}
const REASONS: Record<number, string> = { 400: 'Bad Request', 408: 'Request Timeout', 431: 'Request Header Fields Too Large' }

/** Answers and closes; a socket whose response has already begun, or that is gone, is only destroyed. */
export function answerClientError(err: Error & { code?: string }, socket: Duplex, onRefused?: (code: LiveErrorCode) => void): void {
  const started = (socket as Duplex & { _httpMessage?: { headersSent?: boolean } | null })._httpMessage?.headersSent === true
  if (err.code === 'ECONNRESET' || !socket.writable || started) { socket.destroy(); return }
  const answer = ANSWERS[err.code ?? ''] ?? { code: 'LIVE_BAD_REQUEST', message: 'malformed HTTP request' }
  const refusal = new LiveError(answer.code, answer.message)
  onRefused?.(answer.code)
  const body = JSON.stringify({ error: refusal.toJSON() })
  socket.end(`HTTP/1.1 ${refusal.status} ${REASONS[refusal.status] ?? 'Error'}\r\ncontent-type: application/json; charset=utf-8\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`)
}
