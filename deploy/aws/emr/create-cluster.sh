#!/bin/bash
# Creates an EMR cluster with the bootstrap action and the training step, then terminates it.
# Parameters (environment): BUCKET, PREFIX (where catclass and the key pair were uploaded),
# FEATURES, CLASS_A, CLASS_B, OUT, CORE_NODES (default 4), INSTANCE_TYPE (default c6i.4xlarge),
# SUBNET_ID, KEY_NAME, RELEASE (default emr-7.3.0).
set -euo pipefail
: "${BUCKET:?}" "${PREFIX:?}" "${FEATURES:?}" "${CLASS_A:?}" "${OUT:?}" "${SUBNET_ID:?}" "${KEY_NAME:?}"
: "${CLASS_B:=None}" "${CORE_NODES:=4}" "${INSTANCE_TYPE:=c6i.4xlarge}" "${RELEASE:=emr-7.3.0}"
base="s3://$BUCKET/$PREFIX"
aws s3 cp "$(dirname "$0")/catclass-step.sh" "$base/catclass-step.sh"
aws emr create-cluster \
    --name catclass-train \
    --release-label "$RELEASE" \
    --applications Name=Hadoop \
    --use-default-roles \
    --ec2-attributes "KeyName=$KEY_NAME,SubnetId=$SUBNET_ID" \
    --instance-groups \
        "InstanceGroupType=MASTER,InstanceCount=1,InstanceType=$INSTANCE_TYPE" \
        "InstanceGroupType=CORE,InstanceCount=$CORE_NODES,InstanceType=$INSTANCE_TYPE" \
    --bootstrap-actions \
        "Path=$base/bootstrap-catclass.sh,Args=[$base/catclass,$base/id_ed25519]" \
    --steps \
        "Type=CUSTOM_JAR,Name=catclass-train,ActionOnFailure=TERMINATE_CLUSTER,Jar=command-runner.jar,Args=[bash,-c,aws s3 cp $base/catclass-step.sh /tmp/catclass-step.sh && bash /tmp/catclass-step.sh $FEATURES $CLASS_A $CLASS_B $OUT]" \
    --auto-terminate
