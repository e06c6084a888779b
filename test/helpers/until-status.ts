// Asks again, 100 ms apart, until an answer has the status wanted (a place freed once the server
// hears that a client left); the last answer is returned, its body unread, whatever its status.
export async function untilStatus(ask: () => Promise<Response>, status = 200, attempts = 50): Promise<Response> {
  let answer = await ask();
  for (let attempt = 1; attempt < attempts && answer.status !== status; attempt++) {
    await answer.body?.cancel();
    await new Promise((resolve) => setTimeout(resolve, 100));
    answer = await ask();
  }
  return answer;
}
