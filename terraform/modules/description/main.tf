# Resolves the placeholders of resources.json for one deployment, exactly as
# scripts/local_cloud/resources.py does: {prefix}, {region}, {account} first,
# then {bucket:NAME} and {job_queue_arn:NAME} from the names that result.
# ${aws:username} is IAM's own policy variable and stays as written, and so
# does a placeholder naming no bucket or job queue (the "about" text's NAME).

locals {
  raw = jsondecode(file("${path.module}/../../resources.json"))

  basic = replace(replace(replace(jsonencode(local.raw),
    "{prefix}", var.prefix),
    "{region}", var.region),
  "{account}", var.account)
  named = jsondecode(local.basic)

  bucket_names = { for key, bucket in local.named.buckets : key => bucket.name }
  job_queue_arns = {
    for key, queue in local.named.batch.job_queues :
    key => "arn:${var.partition}:batch:${var.region}:${var.account}:job-queue/${queue.name}"
  }

  with_buckets = join("", [
    for i, chunk in split("{bucket:", local.basic) :
    i == 0 ? chunk : format("%s%s",
      lookup(local.bucket_names, split("}", chunk)[0], "{bucket:${split("}", chunk)[0]}}"),
      join("}", slice(split("}", chunk), 1, length(split("}", chunk))))
    )
  ])
  resolved = join("", [
    for i, chunk in split("{job_queue_arn:", local.with_buckets) :
    i == 0 ? chunk : format("%s%s",
      lookup(local.job_queue_arns, split("}", chunk)[0], "{job_queue_arn:${split("}", chunk)[0]}}"),
      join("}", slice(split("}", chunk), 1, length(split("}", chunk))))
    )
  ])
}
