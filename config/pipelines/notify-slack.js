// pre_id_token, async: a Slack-style sign-in notification (GenAuth's notifier template). It runs after the
// response is decided: a slow or failing webhook never delays or changes a token. The webhook's host must be
// in pipelines.http.allow. Try it: python3 Tests/e2e/webhook_sink.py --port 9000, then mint an ID token.
async function pipe(user, context, callback) {
  const res = await axios.post(env.SLACK_WEBHOOK, {
    text: ':key: ' + (user.email || user.username) + ' signed in to ' + context.appName,
  });
  log('slack answered', res.status);
  callback(null, user, context);
}
