// pre_access_token: machine clients (user === null) get a tenant claim through context;
// user tokens get the user's roles.
async function pipe(user, context, callback) {
  if (context.accessTokenTarget === 'programmaticAccount') {
    context.addAccessToken('tenant', context.clientId === 'billing' ? 'acme-billing' : 'acme');
    context.addAccessToken('m2m', true);
  } else {
    user.addAccessToken('roles', (user.customData && user.customData.roles) || ['member']);
  }
  callback(null, user, context);
}
