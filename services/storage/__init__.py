"""Documents and exports on S3 (boto3): one bucket, one prefix per tenant."""
