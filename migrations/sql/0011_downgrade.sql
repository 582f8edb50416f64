drop table staging.upload_claims;
