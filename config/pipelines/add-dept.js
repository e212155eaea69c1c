// pre_id_token: only users of the allowed e-mail domain get an ID token; add their department.
async function pipe(user, context, callback) {
  const domain = String(user.email || '').split('@')[1];
  if (domain !== env.ALLOWED_DOMAIN) {
    return callback(new Error('users of ' + domain + ' may not sign in to ' + context.appName));
  }
  const dept = (user.customData && user.customData.dept) || 'unassigned';
  user.addIdToken('department', dept);
  log('department', dept, 'for', user.username);
  callback(null, user, context);
}
