// pre_transaction_token: adds the transaction's risk level to the Txn-Token's tctx, from what the
// gateway sent as request_context (its rctx) and the subject the transaction is for.
async function pipe(user, context, callback) {
  const txn = context.transactionToken;
  const rctx = txn.rctx || {};
  context.addTxnContext('risk', rctx.authn === 'mfa' ? 'low' : 'normal');
  context.addTxnContext('subject_kind', txn.sub === context.subjectToken.client_id ? 'workload' : 'user');
  callback(null, user, context);
}
