// Android only: the SMS Retriever API as the kit's OneTimeCodeSource. It reads
// the code from the SMS without the SMS permission. Not compiled by
// scripts/test.sh (no Android SDK there); PhoneVerification.kt, which it uses,
// is compiled and tested on the JVM.
//
// Gradle: implementation("com.google.android.gms:play-services-auth-api-phone:18.1.0")
//         implementation("androidx.core:core-ktx:1.13.1")
//
// The SMS Retriever hands your app only an SMS that carries your app's
// 11-character hash. Compute it once per signing key (the Play App Signing key
// for store builds, your debug key for debug builds; they differ):
//   keytool -exportcert -alias KEY -keystore KEYSTORE | xxd -p | tr -d "[:space:]" |
//     (printf 'com.example.app '; cat) | sha256sum | tr -d "[:space:]-" | xxd -r -p | base64 | cut -c1-11
// and give it to the API: ANDROID_APP_HASH=FA+9qCX9VSu (in SETTINGS). The SMS
// then reads, within the one SMS segment (140 bytes) the Retriever requires:
//   Your Acme verification code is 123456.
//   FA+9qCX9VSu
//
//   @example.com #123456          <- only with AUTOFILL_DOMAIN (iOS, WebOTP)
package com.example.phoneverification

import android.content.BroadcastReceiver
import android.content.Context
import android.content.Intent
import android.content.IntentFilter
import androidx.core.content.ContextCompat
import androidx.core.os.BundleCompat
import com.google.android.gms.auth.api.phone.SmsRetriever
import com.google.android.gms.common.api.CommonStatusCodes
import com.google.android.gms.common.api.Status

/** The code of the next SMS carrying this app's hash, within 5 minutes (onTimeout otherwise, or without Play services). */
class SmsRetrieverCodeSource(
    private val context: Context,
    private val codeLength: Int = 6, // the API's CODE_LENGTH
) : OneTimeCodeSource {
    private var receiver: BroadcastReceiver? = null

    override fun start(onCode: (String) -> Unit, onTimeout: () -> Unit) {
        stop()
        val receiver = object : BroadcastReceiver() {
            override fun onReceive(context: Context, intent: Intent) {
                if (intent.action != SmsRetriever.SMS_RETRIEVED_ACTION) return
                val extras = intent.extras ?: return
                when (BundleCompat.getParcelable(extras, SmsRetriever.EXTRA_STATUS, Status::class.java)?.statusCode) {
                    CommonStatusCodes.SUCCESS ->
                        codeInMessage(extras.getString(SmsRetriever.EXTRA_SMS_MESSAGE).orEmpty(), codeLength)
                            ?.let(onCode) ?: onTimeout()
                    CommonStatusCodes.TIMEOUT -> onTimeout()
                }
            }
        }
        // Play services broadcasts from outside the app: exported, but only to its permission.
        ContextCompat.registerReceiver(
            context, receiver, IntentFilter(SmsRetriever.SMS_RETRIEVED_ACTION),
            SmsRetriever.SEND_PERMISSION, null, ContextCompat.RECEIVER_EXPORTED,
        )
        this.receiver = receiver
        SmsRetriever.getClient(context).startSmsRetriever().addOnFailureListener { onTimeout() }
    }

    override fun stop() {
        receiver?.let { runCatching { context.unregisterReceiver(it) } }
        receiver = null
    }
}

/*
 * In a ViewModel, on the user's actions:
 *
 *   codeSource.start(onCode = ::submitCode, onTimeout = {})  // the user types it
 *   try {
 *       pending = client.sendCode(phoneNumber, channel)
 *       showCodeScreen(pending)            // countdown to pending.resendAvailableAt
 *   } catch (e: VerificationException) { handle(e) } catch (e: IOException) { showOffline() }
 *
 *   // submitCode, from the code source or the user's input (EditText with
 *   // android:inputType="number" android:autofillHints="smsOTPCode"):
 *   try {
 *       val approved = client.verify(pending.phoneNumber, code)
 *       codeSource.stop()
 *       backend.linkPhone(approved.token)    // the backend checks the token against the JWKS
 *   } catch (e: VerificationException) { handle(e) }
 *
 *   fun handle(e: VerificationException) = when (val step = e.nextStep) {
 *       is NextStep.RetypeCode -> showError("${e.message} ${step.attemptsLeft} attempts left")
 *       NextStep.EnterNewerCode -> showError("A newer code was sent: type that one")
 *       NextStep.RequestNewCode -> offerNewCode()
 *       NextStep.FixNumber -> editNumber(e.message)
 *       NextStep.ChooseOtherChannel -> offerCall()
 *       is NextStep.Wait -> waitThenRetry(step.seconds)
 *       NextStep.ShowMessage -> showError(e.message)
 *   }
 */
